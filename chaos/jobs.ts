// What the drills read of casebook's job queue and webhook tables (`headroom.jobs`, `headroom.webhook_*`) straight
// from PostgreSQL: who runs what, and whether every acknowledged export and published event has settled.

import type pg from 'pg';

/** The jobs a worker is running, by queue. */
export interface Running {
  exports: number;
  deliveries: number;
  fanOuts: number;
}

/** What `worker` (a LIKE pattern of `<hostname>:<pid>`) is running now, by queue. */
export async function running(pool: pg.Pool, worker: string): Promise<Running> {
  const { rows } = await pool.query<{ queue: string; n: number }>(
    `SELECT queue, count(*)::int AS n FROM headroom.jobs WHERE state = 'running' AND worker LIKE $1 GROUP BY queue`,
    [worker],
  );
  const n = (queue: string) => rows.find((row) => row.queue === queue)?.n ?? 0;
  return { exports: n('exports'), deliveries: n('webhook-deliveries'), fanOuts: n('webhook-events') };
}

/**
 * Where webhook events stood when `endpointId` was registered: the newest event's id (`'0'` for none), and the
 * endpoint's tenant. Events after that id are the drill's to see delivered.
 */
export async function eventsMark(
  pool: pg.Pool,
  endpointId: number,
): Promise<{ lastEventId: string; tenant: string }> {
  const { rows } = await pool.query<{ last: string | null; tenant: string }>(
    `SELECT (SELECT max(id) FROM headroom.webhook_events)::text AS last, tenant
     FROM headroom.webhook_endpoints WHERE id = $1`,
    [endpointId],
  );
  return { lastEventId: rows[0]!.last ?? '0', tenant: rows[0]!.tenant };
}

/** The jobs `worker` runs now, each with its lease left at `atMs` (ms since the epoch). */
export async function runningJobs(
  pool: pg.Pool,
  worker: string,
  atMs: number,
): Promise<{ id: string; queue: string; leaseLeftMs: number }[]> {
  const { rows } = await pool.query<{ id: string; queue: string; lease_left: number }>(
    `SELECT id::text, queue, (lease_until - $2)::int AS lease_left FROM headroom.jobs
     WHERE state = 'running' AND worker LIKE $1 ORDER BY id`,
    [worker, atMs],
  );
  return rows.map((row) => ({ id: row.id, queue: row.queue, leaseLeftMs: row.lease_left }));
}

export interface Settled {
  /** The acknowledged exports found, with their job's state. */
  exports: { id: number; state: string | null; attempts: number; finishedAt: number | null }[];
  /** Exports of the tenant created since the drill began, acknowledged or not. */
  created: number;
  /** The tenant's events of the subscribed types since the drill began. */
  events: { id: string; exportId: number | null; occurredAt: number }[];
  /** The drill's endpoint's deliveries. */
  deliveries: { id: string; state: string; deliveredAt: number | undefined }[];
}

/** What `settled` looks at: a drill's acknowledged exports, and one tenant's events and endpoint since it began. */
export interface SettledQuery {
  exportIds: readonly number[];
  since: Date;
  endpoint: number;
  tenant: string;
  /** The last event id before the drill began. */
  lastEvent: string;
  /** The event types the endpoint hears. */
  types: readonly string[];
}

/** Where the acknowledged exports, the tenant's exports and events since the drill began and the endpoint's deliveries stand. */
export async function settled(
  pool: pg.Pool,
  { exportIds: ids, since, endpoint, tenant, lastEvent, types }: SettledQuery,
): Promise<Settled> {
  const exports = await pool.query<{
    id: string;
    state: string | null;
    attempts: number;
    finished_at: string;
  }>(
    `SELECT e.id::text, j.state, coalesce(j.attempts, 0) AS attempts, j.finished_at::text
     FROM exports e LEFT JOIN headroom.jobs j ON j.id = e.job_id WHERE e.id = ANY($1::bigint[])`,
    [ids],
  );
  const created = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM exports WHERE tenant_id::text = $1 AND created_at >= $2',
    [tenant, since],
  );
  const events = await pool.query<{ id: string; export: string | null; occurred_at: string }>(
    `SELECT id::text, data->>'id' AS export, occurred_at::text FROM headroom.webhook_events
     WHERE tenant = $1 AND id > $2::bigint AND type = ANY($3::text[]) ORDER BY id`,
    [tenant, lastEvent, types],
  );
  const deliveries = await pool.query<{ id: string; state: string; delivered_at: string | null }>(
    'SELECT id::text, state, delivered_at::text FROM headroom.webhook_deliveries WHERE endpoint_id = $1',
    [endpoint],
  );
  return {
    exports: exports.rows.map((row) => ({
      id: Number(row.id),
      state: row.state,
      attempts: row.attempts,
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    })),
    created: created.rows[0]?.n ?? 0,
    events: events.rows.map((row) => ({
      id: row.id,
      exportId: row.export === null ? null : Number(row.export),
      occurredAt: Number(row.occurred_at),
    })),
    deliveries: deliveries.rows.map((row) => ({
      id: row.id,
      state: row.state,
      deliveredAt: row.delivered_at === null ? undefined : Number(row.delivered_at),
    })),
  };
}

/** The jobs `ids` (held by a killed worker, say), as they stand now. */
export async function heldJobs(
  pool: pg.Pool,
  ids: readonly string[],
): Promise<
  { id: string; queue: string; state: string | null; attempts: number; finishedAt: number | undefined }[]
> {
  const { rows } = await pool.query<{
    id: string;
    queue: string;
    state: string;
    attempts: number;
    finished_at: string | null;
  }>(
    'SELECT id::text, queue, state, attempts, finished_at::text FROM headroom.jobs WHERE id = ANY($1::bigint[]) ORDER BY id',
    [ids],
  );
  return rows.map((row) => ({
    id: row.id,
    queue: row.queue,
    state: row.state,
    attempts: row.attempts,
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
  }));
}
