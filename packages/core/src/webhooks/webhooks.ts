// Webhook sending as a service of the app: endpoints a tenant registers, events published from the caller's own
// transaction (the outbox), a fan-out job per event, a delivery job per event and endpoint, sent per Standard
// Webhooks on the spec's retry schedule, every attempt recorded. Runs on the job queue: fairness between
// tenants and each endpoint's concurrency cap are the queue's (fetch_jobs), dead deliveries its dead letters.

import type { Agent } from 'undici';
import type { Clock } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import { postponeJob } from '../jobs/errors.ts';
import type { JobHandler, Jobs, JobWorker, Queryable } from '../jobs/index.ts';
import { type CircuitBreakerPolicy, circuitBreaker } from '../policy/circuit-breaker.ts';
import { WriteBatcher } from '../shared/batch.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkFunction, checkNumber } from '../shared/options.ts';
import { type DeliveryAttempt, deliverWebhook, webhookAgent } from './deliver.ts';
import { checkWebhookUrl, type EgressOptions } from './egress.ts';
import { webhookErrors } from './errors.ts';
import { standardWebhooksAttempts, standardWebhooksRetryDelay } from './retry-schedule.ts';
import { webhookDeliveriesQueue, webhookEventsQueue } from './schema.ts';
import { generateWebhookSecret } from './signature.ts';

/** Options of `createWebhooks`. */
export interface WebhooksOptions extends EgressOptions {
  /** The job queue (its schema holds the webhook tables too: `jobsSchemaSql()` then `webhooksSchemaSql()`). */
  jobs: Jobs;
  /** Time source of every stored time, signature timestamp and timeout. @default the queue's clock */
  clock?: Clock;
  /** Milliseconds one attempt may take, connection to last byte; longer counts as a failure. @default 15_000 */
  timeout?: number;
  /** Attempts of one endpoint in flight at once, across every worker. @default 4 */
  endpointConcurrency?: number;
  /** An endpoint whose every delivery failed for this long (ms) is disabled. @default 5 days */
  disableAfter?: number;
  /** How long a rotated-out secret keeps signing beside the new one (ms). @default 24 h */
  rotationOverlap?: number;
  /** Uniform random numbers in [0, 1), for the schedule's jitter. @default the queue's */
  random?: () => number;
  /**
   * How long (ms) sending may use an endpoint as read (its URL, secrets, enabled): a change made by another process
   * is seen within it; one made through this instance at once. @default 1_000
   */
  endpointCacheTtl?: number;
  /** Per endpoint, the breaker that stops sending to an endpoint that keeps failing. @default see `endpointBreaker` */
  breaker?: (endpointId: string, clock: Clock) => CircuitBreakerPolicy;
}

/** An endpoint as the API shows it (never its secrets). */
export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  /** Why it is disabled: `webhook.disabled: …`, written when Headroom disabled it. */
  disabledReason: string | null;
  /** Since when every delivery to it failed (ms), or null while it is healthy. */
  failingSince: number | null;
  createdAt: number;
  updatedAt: number;
}

/** The state of one event's delivery to one endpoint: `failed` means no attempt is left (a dead letter). */
export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One event's delivery to one endpoint. */
export interface WebhookDelivery {
  id: string;
  endpointId: string;
  /** `webhook-id`, the same on every attempt. */
  messageId: string;
  eventType: string;
  state: DeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** One attempt of a delivery, as recorded. */
export interface WebhookAttemptRecord {
  attempt: number;
  at: number;
  durationMs: number;
  status: number | null;
  /** The first 1 KB of the answer. */
  response: string | null;
  error: string | null;
}

/** Emitted after each attempt is recorded: what metrics and logs see. */
export interface WebhookAttemptEvent {
  tenant: string;
  endpointId: string;
  deliveryId: string;
  attempt: number;
  /**
   * `delivered`; `retry` (failed, another attempt is scheduled); `failed` (failed, none left); `gone` (410, the
   * endpoint is disabled); `skipped` (the endpoint was disabled before sending).
   */
  result: 'delivered' | 'retry' | 'failed' | 'gone' | 'skipped';
  status?: number;
  durationMs: number;
  /** From the event to its delivery (ms), when `delivered`. */
  latencyMs?: number;
}

/** Emitted when Headroom disables an endpoint. */
export interface WebhookDisabledEvent {
  tenant: string;
  endpointId: string;
  reason: string;
}

/** Pending deliveries by the state of their endpoint, and dead letters: for metrics and health. */
export interface WebhookCounts {
  pending: { healthy: number; failing: number; disabled: number };
  endpoints: { healthy: number; failing: number; disabled: number };
}

/** A page of a list: the rows, and the id to pass as `after` for the next page (undefined at the end). */
export interface WebhookPage<T> {
  items: T[];
  next: string | undefined;
}

const day = 86_400_000;
const keep = 1_000; // endpoints whose breaker and connection pool are kept in memory

/** A positive bigint id as text, or undefined (never a query error). */
function rowId(id: string | number | undefined): string | undefined {
  if (id === undefined) return undefined;
  const text = String(id);
  return /^[1-9][0-9]{0,17}$/.test(text) ? text : undefined;
}

/**
 * The breaker of one endpoint by default: opens when half of its last 10 attempts failed (5 at least), probes
 * after 5 s, then after twice as long each time the probe fails, up to 5 min.
 */
export function endpointBreaker(endpointId: string, clock: Clock): CircuitBreakerPolicy {
  return circuitBreaker({
    name: `webhook:${endpointId}`,
    window: { type: 'count', size: 10 },
    minimumCalls: 5,
    failureRateThreshold: 0.5,
    halfOpenAfter: { initial: 5_000, max: 300_000 },
    clock,
  });
}

/** A failed attempt, as the delivery job throws it: the queue schedules the next with `retryAfterMs`. */
class AttemptFailed extends Error {
  readonly retryAfterMs: number | undefined;
  readonly attempt: DeliveryAttempt;
  constructor(attempt: DeliveryAttempt) {
    super(attempt.error ?? `the endpoint answered ${attempt.status}`);
    this.name = 'WebhookAttemptFailed';
    this.attempt = attempt;
    this.retryAfterMs = attempt.retryAfterMs;
  }
}

/** What a delivery job carries: the delivery, and (from a fan-out) its endpoint and event. */
interface DeliveryPayload {
  delivery?: string | number;
  endpoint?: string | number;
  event?: string | number;
  type?: string;
  data?: unknown;
  at?: string | number;
}

/** One attempt to record, with what it does to its endpoint's health. */
interface AttemptRecord {
  id: string;
  attempt: number;
  at: number;
  durationMs: number;
  status: number | null;
  response: string | null;
  error: string | null;
  state: DeliveryState;
  endpointId: string;
  endpoint: 'healthy' | 'failing' | 'disable' | 'same';
  reason: string | null;
}

interface EndpointRow {
  url: string;
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
  previous_until: string | null;
  failing_since: string | null;
}

interface DeliveryRow {
  id: string;
  tenant: string;
  endpoint_id: string;
  event_id: string;
  type: string;
  data: unknown;
  occurred_at: string;
  url: string;
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
  previous_until: string | null;
  failing_since: string | null;
}

/**
 * Webhook sending; create it with `createWebhooks(options)`.
 *
 * @example
 * const webhooks = createWebhooks({ jobs, allowedHosts: ['127.0.0.1:9000'] });
 * await db.transaction((tx) => webhooks.publish(tx, { tenant, type: 'case.created', data: kase }));
 * webhooks.work({ concurrency: 32 });
 */
export class Webhooks {
  readonly jobs: Jobs;
  readonly clock: Clock;
  readonly #db: Queryable;
  /** Attempts, recorded together: all that ended while the last such statement was on its way, in one. */
  readonly #attempts = new WriteBatcher((batch: AttemptRecord[]) => this.#writeAttempts(batch));
  readonly #s: string;
  readonly #egress: EgressOptions;
  readonly #timeout: number;
  readonly #endpointConcurrency: number;
  readonly #disableAfter: number;
  readonly #rotationOverlap: number;
  readonly #random: () => number;
  readonly #breakerOf: (endpointId: string, clock: Clock) => CircuitBreakerPolicy;
  readonly #breakers = new Map<string, CircuitBreakerPolicy>();
  readonly #agents = new Map<string, { url: string; agent: Agent }>();
  /** Endpoints as sending reads them, for `endpointCacheTtl` (a change made here is seen at once). */
  readonly #endpoints = new Map<string, { at: number; row: EndpointRow | undefined }>();
  readonly #endpointCacheTtl: number;
  readonly #workers: JobWorker[] = [];
  readonly #attempted = new Emitter<WebhookAttemptEvent>();
  readonly #disabled = new Emitter<WebhookDisabledEvent>();
  /** Subscribes to every recorded attempt. */
  readonly onAttempt: Subscribe<WebhookAttemptEvent> = this.#attempted.subscribe;
  /** Subscribes to endpoints Headroom disables (410, or failing past `disableAfter`). */
  readonly onDisabled: Subscribe<WebhookDisabledEvent> = this.#disabled.subscribe;

  constructor(options: WebhooksOptions) {
    if (typeof options?.jobs?.enqueue !== 'function') {
      throw invalidOption('webhooks', 'jobs', 'a job queue from createJobs', options?.jobs);
    }
    this.jobs = options.jobs;
    this.#db = options.jobs.db;
    this.#s = options.jobs.schema;
    this.clock = options.clock ?? options.jobs.clock;
    this.#egress = {
      ...(options.resolver ? { resolver: options.resolver } : {}),
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    };
    this.#timeout = checkNumber('webhooks', 'timeout', options.timeout ?? 15_000, { min: 1 });
    this.#endpointConcurrency = checkNumber(
      'webhooks',
      'endpointConcurrency',
      options.endpointConcurrency ?? 4,
      {
        min: 1,
        integer: true,
      },
    );
    this.#disableAfter = checkNumber('webhooks', 'disableAfter', options.disableAfter ?? 5 * day, { min: 0 });
    this.#rotationOverlap = checkNumber('webhooks', 'rotationOverlap', options.rotationOverlap ?? day, {
      min: 0,
    });
    this.#random = checkFunction('webhooks', 'random', options.random ?? options.jobs.random);
    this.#breakerOf = checkFunction('webhooks', 'breaker', options.breaker ?? endpointBreaker);
    this.#endpointCacheTtl = checkNumber('webhooks', 'endpointCacheTtl', options.endpointCacheTtl ?? 1_000, {
      min: 0,
    });
  }

  // ---- the outbox

  /**
   * Records an event in the caller's transaction (`db`: its client) and enqueues its fan-out, which runs once
   * that transaction commits; nothing is written when no enabled endpoint of `tenant` subscribes to `type`.
   * Returns the event's id, or undefined when nobody listens.
   */
  async publish(
    db: Queryable,
    event: { tenant: string; type: string; data: unknown },
  ): Promise<string | undefined> {
    const { rows } = await db.query(`SELECT ${this.#s}.publish_webhook($1, $2, $3, $4) AS id`, [
      event.tenant,
      event.type,
      JSON.stringify(event.data ?? null),
      Math.floor(this.clock.now()),
    ]);
    return rows[0]?.id == null ? undefined : String(rows[0].id);
  }

  // ---- endpoints

  /** Registers an endpoint (its URL checked for egress first); the secret is returned here only. */
  async createEndpoint(input: {
    tenant: string;
    url: string;
    events: readonly string[];
    description?: string;
  }): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    await checkWebhookUrl(input.url, this.#egress);
    const secret = generateWebhookSecret();
    const now = Math.floor(this.clock.now());
    const { rows } = await this.#db.query(
      `INSERT INTO ${this.#s}.webhook_endpoints (tenant, url, description, events, secret, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *`,
      [input.tenant, input.url, input.description ?? '', input.events, secret, now],
    );
    return { endpoint: toEndpoint(rows[0]!), secret };
  }

  /** The tenant's endpoints, oldest first, `limit` at most after the id `after`. */
  async listEndpoints(
    tenant: string,
    options: { limit?: number; after?: string } = {},
  ): Promise<WebhookPage<WebhookEndpoint>> {
    const limit = checkNumber('listEndpoints', 'limit', options.limit ?? 50, {
      min: 1,
      max: 1000,
      integer: true,
    });
    const { rows } = await this.#db.query(
      `SELECT * FROM ${this.#s}.webhook_endpoints WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [tenant, rowId(options.after) ?? '0', limit + 1],
    );
    return toPage(rows.map(toEndpoint), limit);
  }

  /** One endpoint of the tenant, or undefined. */
  async getEndpoint(tenant: string, id: string | number): Promise<WebhookEndpoint | undefined> {
    const key = rowId(id);
    if (key === undefined) return undefined;
    const { rows } = await this.#db.query(
      `SELECT * FROM ${this.#s}.webhook_endpoints WHERE tenant = $1 AND id = $2`,
      [tenant, key],
    );
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  /**
   * Changes an endpoint (a new URL is checked for egress first). Enabling it clears why it was disabled and its
   * failing time. Undefined when the tenant has no such endpoint.
   */
  async updateEndpoint(
    tenant: string,
    id: string | number,
    change: { url?: string; events?: readonly string[]; enabled?: boolean; description?: string },
  ): Promise<WebhookEndpoint | undefined> {
    const key = rowId(id);
    if (key === undefined) return undefined;
    if (change.url !== undefined) await checkWebhookUrl(change.url, this.#egress);
    const { rows } = await this.#db.query(
      `UPDATE ${this.#s}.webhook_endpoints SET url = coalesce($3, url), events = coalesce($4, events),
         enabled = coalesce($5, enabled), description = coalesce($6, description),
         disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END,
         failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END, updated_at = $7
       WHERE tenant = $1 AND id = $2 RETURNING *`,
      [
        tenant,
        key,
        change.url ?? null,
        change.events ?? null,
        change.enabled ?? null,
        change.description ?? null,
        Math.floor(this.clock.now()),
      ],
    );
    this.#endpoints.delete(key);
    if (rows[0] && change.enabled) this.#breakers.delete(key); // a fresh start
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  /** Deletes an endpoint with its deliveries and their attempts (pending ones are not sent). */
  async deleteEndpoint(tenant: string, id: string | number): Promise<boolean> {
    const key = rowId(id);
    if (key === undefined) return false;
    const { rowCount } = await this.#db.query(
      `DELETE FROM ${this.#s}.webhook_endpoints WHERE tenant = $1 AND id = $2`,
      [tenant, key],
    );
    this.#forget(key);
    return (rowCount ?? 0) > 0;
  }

  /**
   * A new secret for the endpoint; the previous one keeps signing beside it (both signatures sent) for
   * `rotationOverlap`. Undefined when the tenant has no such endpoint.
   */
  async rotateSecret(
    tenant: string,
    id: string | number,
  ): Promise<{ secret: string; previousExpiresAt: number } | undefined> {
    const key = rowId(id);
    if (key === undefined) return undefined;
    const secret = generateWebhookSecret();
    const now = Math.floor(this.clock.now());
    const { rows } = await this.#db.query(
      `UPDATE ${this.#s}.webhook_endpoints SET previous_secret = secret, previous_until = $4, secret = $3,
         updated_at = $5
       WHERE tenant = $1 AND id = $2 RETURNING previous_until`,
      [tenant, key, secret, now + this.#rotationOverlap, now],
    );
    this.#endpoints.delete(key);
    return rows[0] ? { secret, previousExpiresAt: Number(rows[0].previous_until) } : undefined;
  }

  /** Endpoints failing now (every delivery failing since `failingSince`), longest first: for operators. */
  async failingEndpoints(options: { limit?: number } = {}): Promise<WebhookEndpoint[]> {
    const limit = checkNumber('failingEndpoints', 'limit', options.limit ?? 100, {
      min: 1,
      max: 1000,
      integer: true,
    });
    const { rows } = await this.#db.query(
      `SELECT * FROM ${this.#s}.webhook_endpoints WHERE failing_since IS NOT NULL AND enabled
       ORDER BY failing_since, id LIMIT $1`,
      [limit],
    );
    return rows.map(toEndpoint);
  }

  // ---- deliveries

  /** An endpoint's deliveries, newest first, `limit` at most before the id `after`. */
  async listDeliveries(
    tenant: string,
    endpointId: string | number,
    options: { limit?: number; after?: string; state?: DeliveryState } = {},
  ): Promise<WebhookPage<WebhookDelivery>> {
    const limit = checkNumber('listDeliveries', 'limit', options.limit ?? 50, {
      min: 1,
      max: 1000,
      integer: true,
    });
    const key = rowId(endpointId);
    if (key === undefined) return { items: [], next: undefined };
    const { rows } = await this.#db.query(
      `SELECT d.*, ev.type FROM ${this.#s}.webhook_deliveries d JOIN ${this.#s}.webhook_events ev ON ev.id = d.event_id
       WHERE d.endpoint_id = $1 AND d.tenant = $2 AND ($3::bigint IS NULL OR d.id < $3)
         AND ($4::text IS NULL OR d.state = $4)
       ORDER BY d.id DESC LIMIT $5`,
      [key, tenant, rowId(options.after) ?? null, options.state ?? null, limit + 1],
    );
    return toPage(rows.map(toDelivery), limit);
  }

  /** One delivery with every attempt, oldest first; undefined when the tenant's endpoint has no such delivery. */
  async getDelivery(
    tenant: string,
    endpointId: string | number,
    deliveryId: string | number,
  ): Promise<(WebhookDelivery & { attemptsMade: WebhookAttemptRecord[] }) | undefined> {
    const endpoint = rowId(endpointId);
    const id = rowId(deliveryId);
    if (endpoint === undefined || id === undefined) return undefined;
    const { rows } = await this.#db.query(
      `SELECT d.*, ev.type,
         coalesce((SELECT json_agg(a ORDER BY a.id) FROM ${this.#s}.webhook_attempts a WHERE a.delivery_id = d.id),
           '[]') AS attempt_rows
       FROM ${this.#s}.webhook_deliveries d JOIN ${this.#s}.webhook_events ev ON ev.id = d.event_id
       WHERE d.id = $1 AND d.endpoint_id = $2 AND d.tenant = $3`,
      [id, endpoint, tenant],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      ...toDelivery(row),
      attemptsMade: (row.attempt_rows as Record<string, unknown>[]).map((a) => ({
        attempt: Number(a.attempt),
        at: Number(a.at),
        durationMs: Number(a.duration_ms),
        status: a.status == null ? null : Number(a.status),
        response: (a.response as string | null) ?? null,
        error: (a.error as string | null) ?? null,
      })),
    };
  }

  /**
   * Sends a delivery again, now, with the same `webhook-id`: one that waits for a retry runs at once, one that
   * is being sent is left to finish, one that ended (delivered or failed, even while its job is still closing)
   * gets a new job on the full schedule.
   * Undefined when the tenant's endpoint has no such delivery; HR_WEBHOOK_ENDPOINT_DISABLED while it is disabled.
   */
  async retryDelivery(
    tenant: string,
    endpointId: string | number,
    deliveryId: string | number,
  ): Promise<{ state: 'scheduled' | 'running' } | undefined> {
    const endpoint = await this.getEndpoint(tenant, endpointId);
    const id = rowId(deliveryId);
    if (!endpoint || id === undefined) return undefined;
    if (!endpoint.enabled) throw disabledError(endpoint);
    const now = Math.floor(this.clock.now());
    const { rows } = await this.#db.query(
      `WITH cur AS (SELECT d.id, d.state, j.state AS job_state FROM ${this.#s}.webhook_deliveries d
                    LEFT JOIN ${this.#s}.jobs j ON j.id = d.job_id
                    WHERE d.id = $1 AND d.endpoint_id = $2 AND d.tenant = $3),
       hurried AS (UPDATE ${this.#s}.jobs j SET run_at = $4 FROM ${this.#s}.webhook_deliveries d, cur
                   WHERE d.id = cur.id AND j.id = d.job_id AND j.state = 'ready' RETURNING j.id),
       renewed AS (UPDATE ${this.#s}.webhook_deliveries d SET state = 'pending', updated_at = $4,
                     job_id = ${this.#s}.add_job('${webhookDeliveriesQueue}', jsonb_build_object('delivery', d.id),
                       d.tenant, $4, $5, $6, NULL, $4, d.endpoint_id::text, $7)
                   FROM cur WHERE d.id = cur.id
                     AND (cur.job_state IS NULL OR cur.job_state NOT IN ('ready', 'running')
                          OR (cur.job_state = 'running' AND cur.state <> 'pending'))
                   RETURNING d.id)
       SELECT cur.job_state, (SELECT count(*) FROM hurried)::int AS hurried,
         (SELECT count(*) FROM renewed)::int AS renewed
       FROM cur`,
      [id, endpoint.id, tenant, now, standardWebhooksAttempts, this.#jobTimeout(), this.#endpointConcurrency],
    );
    const row = rows[0] as { hurried: number; renewed: number } | undefined;
    if (!row) return undefined;
    if (row.hurried === 0 && row.renewed === 0) return { state: 'running' };
    if (row.hurried > 0) this.#breakers.get(endpoint.id)?.reset(); // asked for by hand: try it
    return { state: 'scheduled' };
  }

  /**
   * Svix's "recover": sends again every failed delivery of the endpoint created since `since` (ms), each with
   * its `webhook-id`, on a fresh schedule. Returns how many (at most `limit`); undefined for no such endpoint.
   */
  async recover(
    tenant: string,
    endpointId: string | number,
    since: number,
    limit = 10_000,
  ): Promise<number | undefined> {
    const endpoint = await this.getEndpoint(tenant, endpointId);
    if (!endpoint) return undefined;
    if (!endpoint.enabled) throw disabledError(endpoint);
    const now = Math.floor(this.clock.now());
    const { rows } = await this.#db.query(
      `WITH picked AS (SELECT id FROM ${this.#s}.webhook_deliveries
                       WHERE endpoint_id = $1 AND tenant = $2 AND state = 'failed' AND created_at >= $3
                       ORDER BY id LIMIT $4),
       renewed AS (UPDATE ${this.#s}.webhook_deliveries d SET state = 'pending', updated_at = $5,
                     job_id = ${this.#s}.add_job('${webhookDeliveriesQueue}', jsonb_build_object('delivery', d.id),
                       d.tenant, $5, $6, $7, NULL, $5, d.endpoint_id::text, $8)
                   FROM picked WHERE d.id = picked.id RETURNING d.id)
       SELECT count(*)::int AS n FROM renewed`,
      [
        endpoint.id,
        tenant,
        Math.floor(checkNumber('recover', 'since', since)),
        checkNumber('recover', 'limit', limit, { min: 1, max: 100_000, integer: true }),
        now,
        standardWebhooksAttempts,
        this.#jobTimeout(),
        this.#endpointConcurrency,
      ],
    );
    this.#breakers.get(endpoint.id)?.reset();
    return Number(rows[0]?.n ?? 0);
  }

  /** Pending deliveries by their endpoint's state, and endpoints by state: for metrics. */
  async counts(): Promise<WebhookCounts> {
    const { rows } = await this.#db.query(
      `WITH e AS (SELECT id, CASE WHEN NOT enabled THEN 'disabled' WHEN failing_since IS NOT NULL THEN 'failing'
                   ELSE 'healthy' END AS state FROM ${this.#s}.webhook_endpoints)
       SELECT e.state, count(DISTINCT e.id)::int AS endpoints, count(d.id)::int AS pending
       FROM e LEFT JOIN ${this.#s}.webhook_deliveries d ON d.endpoint_id = e.id AND d.state = 'pending'
       GROUP BY e.state`,
    );
    const counts: WebhookCounts = {
      pending: { healthy: 0, failing: 0, disabled: 0 },
      endpoints: { healthy: 0, failing: 0, disabled: 0 },
    };
    for (const row of rows) {
      const state = row.state as keyof WebhookCounts['pending'];
      counts.pending[state] = Number(row.pending);
      counts.endpoints[state] = Number(row.endpoints);
    }
    return counts;
  }

  // ---- workers

  /**
   * Starts the fan-out worker and the delivery worker. `concurrency`: attempts in flight in this process, 64 by
   * default (each endpoint holds at most `endpointConcurrency` of them, across processes). An attempt mostly waits
   * (on the receiver, and on the statements that take and record it), so slots are cheap: 64 kept 1,000
   * deliveries/s with p99 166 ms where 16 fell behind at 901/s with p99 2.1 s (`npm run bench:webhooks`, and with
   * `BENCH_WEBHOOK_CONCURRENCY=16`). `lease`: how soon (ms) another
   * process sends what this one was sending when it died (see `WorkOptions.lease`).
   */
  work(
    options: { concurrency?: number; pollInterval?: number; maxRetryAfter?: number; lease?: number } = {},
  ): void {
    const concurrency = checkNumber('webhooks.work', 'concurrency', options.concurrency ?? 64, {
      min: 1,
      integer: true,
    });
    const poll = {
      ...(options.pollInterval === undefined ? {} : { pollInterval: options.pollInterval }),
      ...(options.lease === undefined ? {} : { lease: options.lease }),
    };
    this.#workers.push(
      this.jobs.work(webhookEventsQueue, this.#fanOut, {
        concurrency: Math.max(1, Math.ceil(concurrency / 4)),
        ...poll,
      }),
      this.jobs.work(webhookDeliveriesQueue, this.#deliver, {
        concurrency,
        timeout: this.#jobTimeout(),
        retryDelay: (attempt) => standardWebhooksRetryDelay(attempt, this.#random),
        maxRetryAfter: options.maxRetryAfter ?? 3_600_000,
        ...poll,
      }),
    );
  }

  /** The workers `work` started (to watch their events, or wake them). */
  get workers(): readonly JobWorker[] {
    return this.#workers;
  }

  /** Stops the workers (see `JobWorker.stop`) and closes every connection pool. */
  async stop(timeout?: number): Promise<void> {
    await Promise.all(this.#workers.splice(0).map((worker) => worker.stop(timeout)));
    await Promise.all([...this.#agents.values()].map(({ agent }) => agent.close().catch(() => {})));
    this.#agents.clear();
  }

  /** The breaker of an endpoint in this process (for metrics or an admin reset), if it has one. */
  breaker(endpointId: string): CircuitBreakerPolicy | undefined {
    return this.#breakers.get(endpointId);
  }

  #jobTimeout(): number {
    return Math.ceil(this.#timeout + 5_000); // the attempt's own limit, and time to record it
  }

  // One event → one delivery (and its job) per enabled endpoint of the tenant subscribed to its type. Run again
  // (a lapsed lease), it adds nothing: (event, endpoint) is unique. The job carries the event, so that sending it
  // reads nothing but the endpoint (cached for a second).
  readonly #fanOut: JobHandler = async (job) => {
    const event = rowId((job.payload as { event?: string | number }).event);
    if (event === undefined) return { deliveries: 0 };
    const now = Math.floor(this.clock.now());
    const { rows } = await this.#db.query(`SELECT ${this.#s}.fan_out_webhook($1, $2, $3, $4, $5) AS n`, [
      event,
      now,
      standardWebhooksAttempts,
      this.#jobTimeout(),
      this.#endpointConcurrency,
    ]);
    return { deliveries: Number(rows[0]?.n ?? 0) };
  };

  readonly #deliver: JobHandler = async (job, signal) => {
    const payload = job.payload as DeliveryPayload;
    const id = rowId(payload.delivery);
    if (id === undefined) return { missing: true };
    const row =
      payload.type !== undefined ? await this.#fromPayload(id, job.tenant, payload) : await this.#load(id);
    if (!row) return { missing: true }; // its endpoint was deleted
    const endpointId = String(row.endpoint_id);
    const base = { tenant: row.tenant, endpointId, deliveryId: id, attempt: job.attempt };
    if (!row.enabled) {
      await this.#record(row, job.attempt, 'failed', {
        ok: false,
        durationMs: 0,
        error: 'not sent: the endpoint is disabled',
        gone: false,
      });
      this.#attempted.emit({ ...base, result: 'skipped', durationMs: 0 });
      return { skipped: true };
    }

    const breaker = this.#breakerFor(endpointId, row.tenant);
    const now = this.clock.now();
    const secrets = [row.secret];
    if (row.previous_secret && Number(row.previous_until) > now) secrets.push(row.previous_secret);
    let attempt: DeliveryAttempt;
    try {
      attempt = await breaker.execute(async () => {
        const sent = await deliverWebhook(
          {
            id: `msg_${row.event_id}`,
            type: row.type,
            data: row.data,
            occurredAt: new Date(Number(row.occurred_at)),
            url: row.url,
            secrets,
          },
          { clock: this.clock, timeout: this.#timeout, agent: this.#agentFor(endpointId, row.url), signal },
        );
        if (!sent.ok && !sent.gone && !signal.aborted) throw new AttemptFailed(sent);
        return sent;
      });
    } catch (error) {
      if (error instanceof AttemptFailed) {
        attempt = error.attempt;
      } else if (
        ['HR_CIRCUIT_OPEN', 'HR_CIRCUIT_ISOLATED'].includes((error as { code?: string }).code ?? '')
      ) {
        // Not sent: the endpoint keeps failing. Back to the queue until the breaker probes, attempt not spent.
        throw postponeJob(
          Math.max(1_000, (breaker.stats().probeAt ?? now) - now),
          'the endpoint circuit is open',
        );
      } else {
        throw error;
      }
    }
    if (signal.aborted) throw signal.reason; // given back (the worker stops): not an attempt of the endpoint's

    const last = job.attempt >= job.maxAttempts;
    const state: DeliveryState = attempt.ok ? 'delivered' : attempt.gone || last ? 'failed' : 'pending';
    if (!(await this.#record(row, job.attempt, state, attempt))) return { missing: true };
    const result: WebhookAttemptEvent['result'] = attempt.ok
      ? 'delivered'
      : attempt.gone
        ? 'gone'
        : last
          ? 'failed'
          : 'retry';
    this.#attempted.emit({
      ...base,
      result,
      ...(attempt.status === undefined ? {} : { status: attempt.status }),
      durationMs: attempt.durationMs,
      ...(attempt.ok ? { latencyMs: Math.max(0, this.clock.now() - Number(row.occurred_at)) } : {}),
    });
    if (attempt.ok || attempt.gone) return { status: attempt.status };
    throw new AttemptFailed(attempt);
  };

  // The attempt, the delivery's state, and the endpoint's health, written together; an endpoint that answered
  // 410 or has failed for `disableAfter` is disabled here, with why.
  async #record(
    row: DeliveryRow,
    attempt: number,
    state: DeliveryState,
    sent: DeliveryAttempt,
  ): Promise<boolean> {
    const now = Math.floor(this.clock.now());
    const failingSince = row.failing_since === null ? null : Number(row.failing_since);
    let endpoint: 'healthy' | 'failing' | 'disable' | 'same' = 'same';
    let reason: string | null = null;
    if (sent.ok) {
      if (failingSince !== null) endpoint = 'healthy';
    } else if (sent.gone) {
      endpoint = 'disable';
      reason = 'webhook.disabled: the receiver answered 410 Gone';
    } else if (row.enabled) {
      if (failingSince === null) endpoint = 'failing';
      else if (now - failingSince >= this.#disableAfter) {
        endpoint = 'disable';
        reason = `webhook.disabled: every delivery failed from ${new Date(failingSince).toISOString()} for ${Math.round((now - failingSince) / 3_600_000)} h`;
      }
    }
    // A job whose delivery row does not exist (a fan-out that lost a race with another, after a lapsed lease)
    // records nothing and is not retried.
    const kept = await this.#attempts.add({
      id: row.id,
      attempt,
      at: now,
      durationMs: Math.round(sent.durationMs),
      status: sent.status ?? null,
      response: sent.response ?? null,
      error: sent.error ?? null,
      state,
      endpointId: row.endpoint_id,
      endpoint,
      reason,
    });
    if (!kept) return false;
    if (endpoint !== 'same') this.#endpoints.delete(String(row.endpoint_id));
    if (endpoint === 'disable' && reason) {
      this.#disabled.emit({ tenant: row.tenant, endpointId: String(row.endpoint_id), reason });
    }
    return true;
  }

  // Answers, per attempt, whether its delivery row exists (and the attempt was recorded).
  async #writeAttempts(batch: AttemptRecord[]): Promise<boolean[]> {
    const { rows } = await this.#db.query(
      `SELECT id FROM ${this.#s}.record_webhook_attempts($1::bigint[], $2::integer[], $3::bigint[], $4::integer[],
         $5::integer[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[]) AS r(id)`,
      [
        batch.map((a) => a.id),
        batch.map((a) => a.attempt),
        batch.map((a) => a.at),
        batch.map((a) => a.durationMs),
        batch.map((a) => a.status),
        batch.map((a) => a.response),
        batch.map((a) => a.error),
        batch.map((a) => a.state),
        batch.map((a) => a.endpointId),
        batch.map((a) => a.endpoint),
        batch.map((a) => a.reason),
      ],
    );
    const kept = new Set(rows.map((r) => String(r.id)));
    return batch.map((a) => kept.has(String(a.id)));
  }

  // A delivery whose job does not carry its event (a retry by hand, a recover): everything from the tables.
  async #load(id: string): Promise<DeliveryRow | undefined> {
    const { rows } = await this.#db.query(
      `SELECT d.id, d.tenant, d.endpoint_id, d.event_id, ev.type, ev.data, ev.occurred_at, e.url, e.enabled,
         e.secret, e.previous_secret, e.previous_until, e.failing_since
       FROM ${this.#s}.webhook_deliveries d
       JOIN ${this.#s}.webhook_events ev ON ev.id = d.event_id
       JOIN ${this.#s}.webhook_endpoints e ON e.id = d.endpoint_id
       WHERE d.id = $1`,
      [id],
    );
    return rows[0] as DeliveryRow | undefined;
  }

  // A delivery whose job carries its event: only the endpoint is read, and kept for `endpointCacheTtl`.
  async #fromPayload(id: string, tenant: string, payload: DeliveryPayload): Promise<DeliveryRow | undefined> {
    const endpointId = String(payload.endpoint);
    const now = this.clock.monotonic();
    let cached = this.#endpoints.get(endpointId);
    if (cached === undefined || now - cached.at > this.#endpointCacheTtl) {
      const { rows } = await this.#db.query(
        `SELECT url, enabled, secret, previous_secret, previous_until, failing_since
         FROM ${this.#s}.webhook_endpoints WHERE id = $1 AND tenant = $2`,
        [endpointId, tenant],
      );
      cached = { at: now, row: rows[0] as EndpointRow | undefined };
      this.#endpoints.set(endpointId, cached);
      if (this.#endpoints.size > keep) this.#endpoints.delete(this.#endpoints.keys().next().value!);
    }
    if (!cached.row) return undefined;
    return {
      ...cached.row,
      id,
      tenant,
      endpoint_id: endpointId,
      event_id: String(payload.event),
      type: payload.type!,
      data: payload.data,
      occurred_at: String(payload.at),
    };
  }

  #breakerFor(endpointId: string, tenant: string): CircuitBreakerPolicy {
    let breaker = this.#breakers.get(endpointId);
    if (!breaker) {
      breaker = this.#breakerOf(endpointId, this.clock);
      // Opened: the endpoint's other ready deliveries wait for the probe too, without a worker taking each.
      breaker.onStateChange((change) => {
        if (change.to !== 'open') return;
        const probeAt = breaker!.stats().probeAt;
        if (probeAt === undefined) return;
        this.jobs
          .postpone(webhookDeliveriesQueue, { tenant, group: endpointId, until: probeAt })
          .catch(() => {});
      });
      this.#breakers.set(endpointId, breaker);
      if (this.#breakers.size > keep) this.#breakers.delete(this.#breakers.keys().next().value!);
    }
    return breaker;
  }

  #agentFor(endpointId: string, url: string): Agent {
    const origin = new URL(url).origin;
    const held = this.#agents.get(endpointId);
    if (held && held.url === origin) return held.agent;
    if (held) void held.agent.close().catch(() => {});
    const agent = webhookAgent(url, this.#egress);
    this.#agents.set(endpointId, { url: origin, agent });
    if (this.#agents.size > keep) {
      const [oldest, first] = this.#agents.entries().next().value!;
      this.#agents.delete(oldest);
      void first.agent.close().catch(() => {});
    }
    return agent;
  }

  #forget(endpointId: string): void {
    this.#breakers.delete(endpointId);
    this.#endpoints.delete(endpointId);
    const held = this.#agents.get(endpointId);
    this.#agents.delete(endpointId);
    void held?.agent.close().catch(() => {});
  }
}

function disabledError(endpoint: WebhookEndpoint): Error {
  return webhookErrors.create(
    'HR_WEBHOOK_ENDPOINT_DISABLED',
    `webhook endpoint ${endpoint.id} is disabled; enable it first`,
    {
      context: { reason: endpoint.disabledReason },
    },
  );
}

function toPage<T extends { id: string }>(rows: T[], limit: number): WebhookPage<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, next: more ? items.at(-1)?.id : undefined };
}

function toEndpoint(row: Record<string, unknown>): WebhookEndpoint {
  return {
    id: String(row.id),
    tenant: row.tenant as string,
    url: row.url as string,
    description: row.description as string,
    events: row.events as string[],
    enabled: row.enabled === true,
    disabledReason: (row.disabled_reason as string | null) ?? null,
    failingSince: row.failing_since == null ? null : Number(row.failing_since),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toDelivery(row: Record<string, unknown>): WebhookDelivery {
  return {
    id: String(row.id),
    endpointId: String(row.endpoint_id),
    messageId: `msg_${row.event_id}`,
    eventType: row.type as string,
    state: row.state as DeliveryState,
    attempts: Number(row.attempts),
    lastStatus: row.last_status == null ? null : Number(row.last_status),
    lastError: (row.last_error as string | null) ?? null,
    createdAt: Number(row.created_at),
    deliveredAt: row.delivered_at == null ? null : Number(row.delivered_at),
  };
}

/**
 * Webhook sending on the job queue: endpoints, an outbox published from the caller's transaction, a fan-out per
 * event, a delivery per event and endpoint on Standard Webhooks' retry schedule, every attempt recorded, a
 * breaker per endpoint, 410 and long failure disable an endpoint. Create the tables with `jobsSchemaSql()` and
 * `webhooksSchemaSql()` first.
 *
 * @example
 * const webhooks = createWebhooks({ jobs, allowedHosts: process.env.WEBHOOK_ALLOWED_HOSTS?.split(',') });
 * webhooks.work({ concurrency: 32 });
 */
export function createWebhooks(options: WebhooksOptions): Webhooks {
  return new Webhooks(options);
}
