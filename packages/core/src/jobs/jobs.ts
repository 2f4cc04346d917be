// The job queue's client: enqueue in the caller's transaction, read a job and its progress, cancel, pause and
// resume a queue (its kill switch), list and redrive dead jobs, count what waits; and `work`, which starts a
// worker (worker.ts). No driver dependency: any client with `query(text, values)` (node-postgres's Pool, Client
// or PoolClient) will do, and LISTEN goes through a connection the caller opens (listener.ts).

import { hostname } from 'node:os';
import { type Clock, systemClock } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import type { Queryable } from '../idempotency/store.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkFunction, checkNumber } from '../shared/options.ts';
import { jobErrors } from './errors.ts';
import { type ListenClient, NotificationListener } from './listener.ts';
import { type JobRecord, toJobRecord } from './record.ts';
import { checkSchema, jobsChannel } from './schema.ts';
import {
  type JobEndEvent,
  type JobHandler,
  type JobStartEvent,
  JobWorker,
  type JobWorkerErrorEvent,
  type WorkOptions,
} from './worker.ts';

export type { Queryable } from '../idempotency/store.ts';

/** Options of `enqueue`. */
export interface EnqueueOptions {
  /** The tenant the job belongs to: fairness, per-tenant limits and every lookup are by tenant. @default '' */
  tenant?: string;
  /** Not before this time (ms since the epoch). @default now */
  runAt?: number;
  /** Attempts in all, the first included; past them the job is dead. @default 5 */
  maxAttempts?: number;
  /** Milliseconds one attempt may run. @default the worker's `timeout` */
  timeout?: number;
  /** At most this many of the tenant's jobs of this queue run at once (a tier's export concurrency). */
  tenantLimit?: number;
  /**
   * A group inside the tenant (a webhook endpoint, say): with `groupLimit`, at most that many of the group's
   * jobs of this queue run at once, across every worker; `postpone` holds a whole group for a time.
   */
  group?: string;
  /** At most this many jobs of `group` run at once. */
  groupLimit?: number;
}

/** Counts of one queue, for health and metrics. */
export interface QueueCounts {
  queue: string;
  paused: boolean;
  /** Ready to run now. */
  ready: number;
  /** Ready, but not before a later time (a retry's backoff, a scheduled job). */
  scheduled: number;
  running: number;
  dead: number;
  /** Milliseconds the oldest job ready to run now has waited (0 when none). */
  oldestReadyMs: number;
}

/** Options of `createJobs`. */
export interface JobsOptions {
  /** Runs the queue's statements: a pool (node-postgres `Pool`). */
  db: Queryable;
  /**
   * Opens a connection for LISTEN (node-postgres: `async () => { const c = new pg.Client(url); await c.connect(); return c; }`).
   * It must reach PostgreSQL directly: a transaction pooler (PgBouncer in transaction mode) drops LISTEN. Without
   * it, workers find jobs by polling only.
   */
  listen?: () => Promise<ListenClient>;
  /** The schema `jobsSchemaSql` created. @default 'headroom' */
  schema?: string;
  /** Time source of every stored time, lease and timeout. @default systemClock() */
  clock?: Clock;
  /** Uniform random numbers in [0, 1), for backoff jitter. @default Math.random */
  random?: () => number;
  /** This process's name in `worker` columns. @default `<hostname>:<pid>` */
  name?: string;
}

/** A job id as the table holds it (bigint), or undefined for anything else: never a query error. */
function jobId(id: string | number): string | undefined {
  const text = String(id);
  return /^[1-9][0-9]{0,17}$/.test(text) ? text : undefined;
}

/**
 * The queue; create it with `createJobs(options)`.
 *
 * @example
 * const jobs = createJobs({ db: pool, listen: () => connectDirect() });
 * await jobs.enqueue(tx, 'exports', { filter }, { tenant });   // inside the request's transaction
 * jobs.work('exports', async (job, signal) => runExport(job, signal), { concurrency: 2 });
 */
export class Jobs {
  readonly db: Queryable;
  readonly schema: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly name: string;
  /** The NOTIFY channel: `q:<queue>` for new work, `c:<id>` for a cancellation. */
  readonly channel: string;
  readonly #listener: NotificationListener | undefined;
  readonly #workers = new Set<JobWorker>();
  /** @internal Every worker's events, forwarded: what metrics subscribe to once for all workers. */
  readonly events = {
    started: new Emitter<JobStartEvent>(),
    ended: new Emitter<JobEndEvent>(),
    failed: new Emitter<JobWorkerErrorEvent>(),
  };
  /** Subscribes to job starts of every worker of this queue client. */
  readonly onStart: Subscribe<JobStartEvent> = this.events.started.subscribe;
  /** Subscribes to attempt ends of every worker. */
  readonly onEnd: Subscribe<JobEndEvent> = this.events.ended.subscribe;
  /** Subscribes to database failures of every worker. */
  readonly onError: Subscribe<JobWorkerErrorEvent> = this.events.failed.subscribe;

  constructor(options: JobsOptions) {
    if (typeof options?.db?.query !== 'function') {
      throw invalidOption('jobs', 'db', 'a client with query(text, values), such as a pg Pool', options?.db);
    }
    this.db = options.db;
    this.schema = checkSchema(options.schema ?? 'headroom');
    this.clock = checkClock('jobs', options.clock ?? systemClock());
    this.random = checkFunction('jobs', 'random', options.random ?? Math.random);
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    this.channel = jobsChannel(this.schema);
    if (options.listen !== undefined) {
      checkFunction('jobs', 'listen', options.listen);
      this.#listener = new NotificationListener(options.listen, this.channel, this.clock);
    }
  }

  /**
   * Adds a job, through `db` when given (the caller's transaction client: the job exists if and only if that
   * transaction commits, and its NOTIFY fires at the commit), else through the queue's pool.
   */
  async enqueue(
    db: Queryable | undefined,
    queue: string,
    payload: unknown,
    options: EnqueueOptions = {},
  ): Promise<{ id: string }> {
    checkQueue(queue);
    const now = this.clock.now();
    const runAt = options.runAt === undefined ? now : checkNumber('enqueue', 'runAt', options.runAt);
    const { rows } = await (db ?? this.db).query(
      `SELECT ${this.schema}.add_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS id`,
      [
        queue,
        JSON.stringify(payload ?? null),
        options.tenant ?? '',
        Math.floor(runAt),
        options.maxAttempts === undefined
          ? 5
          : checkNumber('enqueue', 'maxAttempts', options.maxAttempts, { min: 1, integer: true }),
        options.timeout === undefined
          ? null
          : checkNumber('enqueue', 'timeout', options.timeout, { min: 1, integer: true }),
        options.tenantLimit === undefined
          ? null
          : checkNumber('enqueue', 'tenantLimit', options.tenantLimit, { min: 1, integer: true }),
        Math.floor(now),
        options.group ?? null,
        options.groupLimit === undefined
          ? null
          : checkNumber('enqueue', 'groupLimit', options.groupLimit, { min: 1, integer: true }),
      ],
    );
    return { id: String(rows[0]!.id) };
  }

  /** The job, or undefined when there is none with that id (for `tenant`, when given). */
  async get(id: string | number, scope: { tenant?: string } = {}): Promise<JobRecord | undefined> {
    const key = jobId(id);
    if (key === undefined) return undefined;
    const { rows } = await this.db.query(
      `SELECT * FROM ${this.schema}.jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)`,
      [key, scope.tenant ?? null],
    );
    return rows[0] ? toJobRecord(rows[0]) : undefined;
  }

  /**
   * Cancels a job that has not finished: a ready one never runs; a running one's handler sees its signal abort
   * (HR_JOB_CANCELLED) within moments when LISTEN is on, else at its worker's next heartbeat. False when there
   * is no such job or it had finished.
   */
  async cancel(id: string | number, scope: { tenant?: string } = {}): Promise<boolean> {
    const key = jobId(id);
    if (key === undefined) return false;
    const { rows } = await this.db.query(
      `WITH cancelled AS (
         UPDATE ${this.schema}.jobs SET state = 'cancelled', finished_at = $3, reason = 'cancelled',
           lease_until = NULL
         WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND state IN ('ready', 'running') RETURNING id)
       SELECT id, pg_notify($4, 'c:' || id) FROM cancelled`,
      [key, scope.tenant ?? null, this.clock.now(), this.channel],
    );
    return rows.length > 0;
  }

  /** The kill switch: workers of `queue` take no new job until `resume` (running jobs finish). */
  async pause(queue: string): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.schema}.queues (queue, paused) VALUES ($1, true)
       ON CONFLICT (queue) DO UPDATE SET paused = true`,
      [checkQueue(queue)],
    );
  }

  /** Lifts the kill switch and wakes the queue's workers. */
  async resume(queue: string): Promise<void> {
    await this.db.query(
      `WITH resumed AS (
         INSERT INTO ${this.schema}.queues (queue, paused) VALUES ($1, false)
         ON CONFLICT (queue) DO UPDATE SET paused = false RETURNING queue)
       SELECT pg_notify($2, 'q:' || queue) FROM resumed`,
      [checkQueue(queue), this.channel],
    );
  }

  /**
   * Holds one group of a tenant in `queue` (a webhook endpoint whose circuit is open, say) until `until` (ms since
   * the epoch): workers take none of its jobs before then, neither the ready ones nor those enqueued meanwhile,
   * and no attempt is spent. A later call moves the time (earlier too). One row of `job_groups` per group held.
   */
  async postpone(queue: string, options: { tenant: string; group: string; until: number }): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.schema}.job_groups (queue, tenant, grp, not_before) VALUES ($1, $2, $3, $4)
       ON CONFLICT (queue, tenant, grp) DO UPDATE SET not_before = excluded.not_before`,
      [
        checkQueue(queue),
        options.tenant,
        options.group,
        Math.floor(checkNumber('postpone', 'until', options.until)),
      ],
    );
  }

  /** True while `queue` is paused. */
  async paused(queue: string): Promise<boolean> {
    const { rows } = await this.db.query(`SELECT paused FROM ${this.schema}.queues WHERE queue = $1`, [
      checkQueue(queue),
    ]);
    return rows[0]?.paused === true;
  }

  /** Throws HR_JOB_QUEUE_PAUSED (503) while `queue` is paused: for routes that start work of this kind. */
  async assertRunning(queue: string, retryAfterSeconds = 30): Promise<void> {
    if (await this.paused(queue)) {
      throw jobErrors.create('HR_JOB_QUEUE_PAUSED', `${queue} is paused; try again later`, {
        context: { queue },
        headers: { 'retry-after': String(retryAfterSeconds) },
      });
    }
  }

  /** Dead jobs of `queue` (out of attempts), oldest first, `limit` at most, after the id `after`. */
  async dead(
    queue: string,
    options: { tenant?: string; limit?: number; after?: string } = {},
  ): Promise<JobRecord[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM ${this.schema}.jobs
       WHERE queue = $1 AND state = 'dead' AND ($2::text IS NULL OR tenant = $2) AND id > $3
       ORDER BY id LIMIT $4`,
      [
        checkQueue(queue),
        options.tenant ?? null,
        jobId(options.after ?? '') ?? '0',
        checkNumber('dead', 'limit', options.limit ?? 100, { min: 1, max: 1000, integer: true }),
      ],
    );
    return rows.map(toJobRecord);
  }

  /**
   * Puts dead jobs back to run, with their attempts reset: the one `id`, or every dead job of the queue (of
   * `tenant`, when given). Returns how many.
   */
  async redrive(queue: string, options: { id?: string; tenant?: string } = {}): Promise<number> {
    const id = options.id === undefined ? null : jobId(options.id);
    if (id === undefined) return 0;
    const { rows } = await this.db.query(
      `WITH redriven AS (
         UPDATE ${this.schema}.jobs SET state = 'ready', attempts = 0, run_at = $4, finished_at = NULL,
           worker = NULL, lease_until = NULL
         WHERE queue = $1 AND state = 'dead' AND ($2::bigint IS NULL OR id = $2) AND ($3::text IS NULL OR tenant = $3)
         RETURNING id)
       SELECT count(*)::int AS n, pg_notify($5, 'q:' || $1) FROM redriven`,
      [checkQueue(queue), id, options.tenant ?? null, this.clock.now(), this.channel],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Counts by queue: every queue with a live or dead job, a pause switch, or a worker in this process. */
  async counts(): Promise<QueueCounts[]> {
    const now = this.clock.now();
    const { rows } = await this.db.query(
      `WITH live AS (
         SELECT queue,
           count(*) FILTER (WHERE state = 'ready' AND run_at <= $1)::int AS ready,
           count(*) FILTER (WHERE state = 'ready' AND run_at > $1)::int AS scheduled,
           count(*) FILTER (WHERE state = 'running')::int AS running,
           count(*) FILTER (WHERE state = 'dead')::int AS dead,
           coalesce(min(run_at) FILTER (WHERE state = 'ready' AND run_at <= $1), $1) AS oldest
         FROM ${this.schema}.jobs WHERE state IN ('ready', 'running', 'dead') GROUP BY queue)
       SELECT coalesce(l.queue, q.queue) AS queue, coalesce(q.paused, false) AS paused,
         coalesce(l.ready, 0) AS ready, coalesce(l.scheduled, 0) AS scheduled,
         coalesce(l.running, 0) AS running, coalesce(l.dead, 0) AS dead, coalesce(l.oldest, $1) AS oldest
       FROM live l FULL JOIN ${this.schema}.queues q ON q.queue = l.queue ORDER BY 1`,
      [now],
    );
    const counts: QueueCounts[] = rows.map((row) => ({
      queue: row.queue as string,
      paused: row.paused === true,
      ready: Number(row.ready),
      scheduled: Number(row.scheduled),
      running: Number(row.running),
      dead: Number(row.dead),
      oldestReadyMs: Math.max(0, now - Number(row.oldest)),
    }));
    // A queue this process works on is listed even while it has no job at all.
    const listed = new Set(counts.map((c) => c.queue));
    for (const queue of new Set([...this.#workers].map((worker) => worker.queue))) {
      if (listed.has(queue)) continue;
      counts.push({ queue, paused: false, ready: 0, scheduled: 0, running: 0, dead: 0, oldestReadyMs: 0 });
    }
    return counts.sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
  }

  /** Deletes finished jobs older than their retention (done and cancelled 24 h, dead 7 days by default). */
  async sweep(options: { done?: number; dead?: number } = {}): Promise<number> {
    const now = this.clock.now();
    const done = checkNumber('sweep', 'done', options.done ?? 86_400_000, { min: 0 });
    const dead = checkNumber('sweep', 'dead', options.dead ?? 7 * 86_400_000, { min: 0 });
    const result = await this.db.query(
      `DELETE FROM ${this.schema}.jobs
       WHERE (state IN ('done', 'cancelled') AND finished_at < $1) OR (state = 'dead' AND finished_at < $2)`,
      [now - done, now - dead],
    );
    return result.rowCount ?? 0;
  }

  /** Starts a worker that runs `queue`'s jobs with `handler`; stop it with `worker.stop()` or `jobs.stop()`. */
  work(queue: string, handler: JobHandler, options: WorkOptions = {}): JobWorker {
    const worker = new JobWorker(this, checkQueue(queue), handler, options, this.#listener);
    this.#workers.add(worker);
    worker.onStopped(() => this.#workers.delete(worker));
    worker.start();
    return worker;
  }

  /**
   * Stops every worker (each finishes or gives back its running jobs within `timeout` ms; see
   * `JobWorker.stop`) and closes the LISTEN connection.
   */
  async stop(timeout?: number): Promise<void> {
    await Promise.all([...this.#workers].map((worker) => worker.stop(timeout)));
    await this.#listener?.close();
  }
}

function checkQueue(queue: string): string {
  if (typeof queue !== 'string' || !/^[A-Za-z0-9_.:-]{1,100}$/.test(queue)) {
    throw invalidOption('jobs', 'queue', 'a name of 1 to 100 letters, digits, _ . : -', queue);
  }
  return queue;
}

/**
 * A job queue on PostgreSQL: jobs enqueued in the caller's transaction, woken by LISTEN/NOTIFY with polling
 * as a net, taken fairly between tenants, retried with backoff and jitter up to their attempts, then dead
 * until redriven; leases renewed while a job runs, so a job whose worker died runs again once its lease
 * lapses. Create the tables with `jobsSchemaSql()` first.
 *
 * @example
 * const jobs = createJobs({ db: pool, listen: connectDirect });
 * const { id } = await jobs.enqueue(tx, 'exports', { q: 'fraud' }, { tenant: 'acme' });
 */
export function createJobs(options: JobsOptions): Jobs {
  return new Jobs(options);
}
