// A job as its row says, in the shape callers read.

/** Where a job is in its life. `ready` includes a job waiting for its `runAt` (a retry's backoff). */
export type JobState = 'ready' | 'running' | 'done' | 'dead' | 'cancelled';

/** A job as stored. Times are ms since the epoch (the clock of whoever wrote them). */
export interface JobRecord {
  id: string;
  queue: string;
  tenant: string;
  payload: unknown;
  state: JobState;
  runAt: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  attempts: number;
  maxAttempts: number;
  /** Milliseconds an attempt may run, when the job was enqueued with its own limit. */
  timeoutMs: number | null;
  /** 0 to 100, written by the handler. */
  progress: number;
  /** The handler's last progress message. */
  message: string | null;
  /** What the handler returned, when it is done. */
  result: unknown;
  /** The last failure's message, and its reason: `error`, `timeout`, `lease-expired`, `cancelled`. */
  lastError: string | null;
  reason: string | null;
  /** The group inside the tenant, when enqueued with one. */
  group: string | null;
  /** At most this many of the tenant's jobs of the queue run at once, when enqueued with a limit. */
  tenantLimit: number | null;
  /** At most this many of the group's jobs run at once, when enqueued with a limit. */
  groupLimit: number | null;
}

/** Row → record: bigint columns come back from node-postgres as strings. */
export function toJobRecord(row: Record<string, unknown>): JobRecord {
  const time = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    id: String(row.id),
    queue: row.queue as string,
    tenant: row.tenant as string,
    payload: row.payload,
    state: row.state as JobState,
    runAt: Number(row.run_at),
    createdAt: Number(row.created_at),
    startedAt: time(row.started_at),
    finishedAt: time(row.finished_at),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    timeoutMs: time(row.timeout_ms),
    progress: Number(row.progress),
    message: (row.message as string | null) ?? null,
    result: row.result ?? null,
    lastError: (row.last_error as string | null) ?? null,
    reason: (row.reason as string | null) ?? null,
    group: (row.grp as string | null) ?? null,
    tenantLimit: time(row.tenant_limit),
    groupLimit: time(row.group_limit),
  };
}
