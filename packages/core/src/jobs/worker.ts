// A worker: takes jobs of one queue while it has free slots, runs each under a time limit with an AbortSignal,
// renews their leases while they run, and records how each ended (done, retried after a backoff, dead,
// cancelled, or given back when the worker stops). Woken by NOTIFY, with polling as a net; expired leases
// (a worker that died) are reaped by every worker of the queue.

import type { Timer } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { Backoff, type BackoffOptions } from '../policy/backoff.ts';
import { WriteBatcher } from '../shared/batch.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkFunction, checkNumber } from '../shared/options.ts';
import { jobErrors } from './errors.ts';
import type { Jobs } from './jobs.ts';
import type { NotificationListener } from './listener.ts';
import { type JobRecord, toJobRecord } from './record.ts';

/** The job a handler runs. */
export interface RunningJob {
  id: string;
  queue: string;
  tenant: string;
  payload: unknown;
  /** This attempt's number, 1 for the first. */
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  /** Records progress (0 to 100, rounded) and a message, readable through `jobs.get(id)`. */
  progress(percent: number, message?: string): Promise<void>;
}

/**
 * Runs one job. What it returns is stored as the job's result (JSON). A throw fails the attempt; `signal`
 * aborts when the job runs past its time, is cancelled, or is given back because the worker stops: a handler
 * must stop then (the worker frees the slot at once and ignores what the handler does afterwards).
 */
export type JobHandler = (job: RunningJob, signal: AbortSignal) => unknown;

/** Options of `jobs.work`. */
export interface WorkOptions {
  /** Jobs this worker runs at once. @default 1 */
  concurrency?: number;
  /**
   * Milliseconds a running job's lease lasts; renewed every third of it while the job runs. A job whose worker
   * died runs again once its lease lapses. @default 30_000
   */
  lease?: number;
  /** Milliseconds an attempt may run, unless the job was enqueued with its own. @default 60_000 */
  timeout?: number;
  /** Milliseconds between looks at the queue when no NOTIFY came (the net under LISTEN). @default 1_000 */
  pollInterval?: number;
  /** Backoff before a failed job's next attempt. @default { initialDelay: 1_000, maxDelay: 300_000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /**
   * Milliseconds before the next attempt after failed attempt number `attempt` (1 for the first), instead of
   * `backoff`: a schedule of one's own (Standard Webhooks' `standardWebhooksRetryDelay`, say).
   */
  retryDelay?: (attempt: number, error: unknown) => number;
  /**
   * The longest wait a failure may ask for: a handler's error with a numeric `retryAfterMs` (a 429 or 503 answer's
   * Retry-After) delays the next attempt to at least that, up to this many ms. @default 3_600_000
   */
  maxRetryAfter?: number;
}

/** The wait a failed attempt's error asks for (`retryAfterMs`), if any. */
function retryAfterOf(error: unknown): number | undefined {
  const value = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Emitted when a job starts. */
export interface JobStartEvent {
  queue: string;
  id: string;
  tenant: string;
  attempt: number;
  /** Milliseconds from when the job could run (enqueued, or its retry came due) to its start. */
  waitMs: number;
}

/**
 * How an attempt ended: `retry` and `dead` are failures, `released` a job given back by a stopping worker,
 * `postponed` one its handler put back for later (`postponeJob`); neither of the last two spends an attempt.
 */
export type JobOutcome = 'done' | 'retry' | 'dead' | 'cancelled' | 'released' | 'postponed';

/** Emitted when an attempt ends. */
export interface JobEndEvent {
  queue: string;
  id: string;
  tenant: string;
  attempt: number;
  outcome: JobOutcome;
  /** For failures: `error` (the handler threw) or `timeout`. */
  reason?: 'error' | 'timeout';
  /** Milliseconds the attempt ran (monotonic). */
  runMs: number;
  error?: unknown;
}

/** Emitted when the worker could not reach the database (it tries again at its next poll). */
export interface JobWorkerErrorEvent {
  queue: string;
  operation: 'fetch' | 'complete' | 'fail' | 'release' | 'heartbeat' | 'reap' | 'progress';
  error: unknown;
}

interface Run {
  /** Set when a failed attempt is to be retried without waiting. */
  retryNow?: boolean;
  record: JobRecord;
  controller: AbortController;
  timer: Timer;
  started: number;
  settled: boolean;
}

const defaultOptions = {
  concurrency: 1,
  lease: 30_000,
  timeout: 60_000,
  pollInterval: 1_000,
};

/** Reasons an attempt ends before its handler settles. */
type Cut = 'timeout' | 'cancelled' | 'released';

/**
 * Runs jobs of one queue; made by `jobs.work(queue, handler, options)`.
 *
 * @example
 * const worker = jobs.work('exports', handler, { concurrency: 2 });
 * worker.onEnd((e) => metrics.observe(e));
 * await worker.stop(10_000);
 */
export class JobWorker {
  readonly queue: string;
  readonly concurrency: number;
  readonly #jobs: Jobs;
  readonly #handler: JobHandler;
  readonly #lease: number;
  readonly #timeout: number;
  readonly #pollInterval: number;
  readonly #backoff: Backoff;
  readonly #retryDelay: ((attempt: number, error: unknown) => number) | undefined;
  readonly #maxRetryAfter: number;
  readonly #listener: NotificationListener | undefined;
  readonly #running = new Map<string, Run>();
  /**
   * Jobs cancelled (by NOTIFY) that this worker was not running: the NOTIFY can overtake the answer of the
   * fetch that took the job, so a job that starts after its cancellation was heard is cut at once. The newest
   * 1,000 ids, in the order heard.
   */
  readonly #cancelled = new Set<string>();
  readonly #writes = new Set<Promise<unknown>>();
  readonly #started = new Emitter<JobStartEvent>();
  readonly #ended = new Emitter<JobEndEvent>();
  readonly #failed = new Emitter<JobWorkerErrorEvent>();
  readonly #stoppedEvent = new Emitter<void>();
  #fetching = false;
  /** The fill in progress, which stop() waits for: a fetch in flight may still bring jobs. */
  #filling: Promise<void> | undefined;
  #again = false;
  /**
   * Whether there may be jobs this worker has not looked at: the last fetch filled every slot it asked for, or a
   * wake-up (NOTIFY, poll) came while every slot was busy. A freed slot fetches only then: a worker that keeps
   * up does not ask the database again after every job.
   */
  #more = true;
  /** Completions, written together: all that ended while the last such UPDATE was on its way, in one. */
  readonly #completed = new WriteBatcher((batch: { run: Run; result: string }[]) =>
    this.#writeCompleted(batch),
  );
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #poll: Timer | undefined;
  #heartbeat: Timer | undefined;
  #reaper: Timer | undefined;

  /** Subscribes to job starts. */
  readonly onStart: Subscribe<JobStartEvent> = this.#started.subscribe;
  /** Subscribes to attempt ends. */
  readonly onEnd: Subscribe<JobEndEvent> = this.#ended.subscribe;
  /** Subscribes to database failures of the worker itself. */
  readonly onError: Subscribe<JobWorkerErrorEvent> = this.#failed.subscribe;
  /** Subscribes to the end of `stop()`. */
  readonly onStopped: Subscribe<void> = this.#stoppedEvent.subscribe;

  constructor(
    jobs: Jobs,
    queue: string,
    handler: JobHandler,
    options: WorkOptions,
    listener: NotificationListener | undefined,
  ) {
    const o = { ...defaultOptions, ...options };
    this.#jobs = jobs;
    this.queue = queue;
    this.#handler = checkFunction('jobs.work', 'handler', handler);
    this.concurrency = checkNumber('jobs.work', 'concurrency', o.concurrency, { min: 1, integer: true });
    this.#lease = checkNumber('jobs.work', 'lease', o.lease, { min: 3, integer: true });
    this.#timeout = checkNumber('jobs.work', 'timeout', o.timeout, { min: 1, integer: true });
    this.#pollInterval = checkNumber('jobs.work', 'pollInterval', o.pollInterval, { min: 1 });
    this.#backoff = new Backoff(
      { initialDelay: 1_000, maxDelay: 300_000, random: jobs.random, ...options.backoff },
      'jobs.work',
    );
    this.#retryDelay =
      options.retryDelay === undefined
        ? undefined
        : checkFunction('jobs.work', 'retryDelay', options.retryDelay);
    this.#maxRetryAfter = checkNumber('jobs.work', 'maxRetryAfter', options.maxRetryAfter ?? 3_600_000, {
      min: 0,
    });
    this.#listener = listener;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** @internal Called by `jobs.work`. */
  start(): void {
    this.#unsubscribe = this.#listener?.subscribe((payload) => this.#notified(payload));
    this.#schedulePoll();
    this.#scheduleHeartbeat();
    this.#scheduleReap();
    this.wake();
  }

  /** Looks for jobs now (a NOTIFY does this; call it after enqueueing without LISTEN). */
  wake(): void {
    if (this.#stopping) return;
    if (this.#running.size >= this.concurrency) {
      this.#more = true; // looked at when a slot frees
      return;
    }
    if (this.#fetching) {
      this.#again = true;
      return;
    }
    this.#fetching = true;
    this.#filling = this.#fill();
  }

  /**
   * Stops taking jobs, waits up to `timeout` ms (default 10 s) for the running ones, then aborts the rest
   * (HR_JOB_RELEASED) and gives them back to the queue, their attempt not counted. Never loses a job: one whose
   * release cannot be written runs again when its lease lapses.
   */
  stop(timeout = 10_000): Promise<void> {
    this.#stopped ??= this.#stop(checkNumber('stop', 'timeout', timeout, { min: 0 }));
    return this.#stopped;
  }

  async #stop(timeout: number): Promise<void> {
    this.#stopping = true;
    this.#poll?.cancel();
    this.#reaper?.cancel();
    this.#unsubscribe?.();
    await this.#filling; // what a fetch in flight took is run, or given back (#fill), before counting
    if (this.#running.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.#jobs.clock.setTimeout(resolve, timeout);
        this.#drained = () => {
          timer.cancel();
          resolve();
        };
      });
    }
    this.#drained = undefined;
    for (const run of [...this.#running.values()]) {
      this.#cut(run, 'released', jobErrors.create('HR_JOB_RELEASED', 'the worker is stopping'));
    }
    this.#heartbeat?.cancel();
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
    this.#stoppedEvent.emit();
  }

  #notified(payload: string | null): void {
    if (payload === null) {
      // LISTEN (re)opened: NOTIFYs sent meanwhile are lost, new work and cancellations alike; look for both.
      this.wake();
      void this.#renew();
    } else if (payload === `q:${this.queue}`) {
      this.wake();
    } else if (payload.startsWith('c:')) {
      const id = payload.slice(2);
      const run = this.#running.get(id);
      if (run) {
        this.#cut(run, 'cancelled', jobErrors.create('HR_JOB_CANCELLED', `job ${id} was cancelled`));
      } else {
        this.#cancelled.add(id);
        if (this.#cancelled.size > 1_000) this.#cancelled.delete(this.#cancelled.values().next().value!);
      }
    }
  }

  async #fill(): Promise<void> {
    try {
      // Up to the free slots in one statement; a batch that comes back short means the queue is drained.
      while (!this.#stopping && this.#running.size < this.concurrency) {
        const wanted = this.concurrency - this.#running.size;
        const records = await this.#fetch(wanted);
        if (this.#stopping) {
          this.#giveBack(records); // taken while stop() began: back to the queue, attempt uncounted
          break;
        }
        for (const record of records) this.#run(record);
        this.#more = records.length === wanted;
        if (!this.#more) break;
      }
    } finally {
      this.#fetching = false;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    }
  }

  /**
   * Gives jobs back to the queue, their attempt uncounted, to run `delay` ms from now: what a stopping worker
   * cannot finish, or what a handler postponed.
   */
  #release(ids: string[], delay = 0): Promise<unknown> {
    return this.#jobs.db.query(
      `UPDATE ${this.#jobs.schema}.jobs SET state = 'ready', run_at = $3, attempts = attempts - 1,
         started_at = NULL, worker = NULL, lease_until = NULL
       WHERE id = ANY($1::bigint[]) AND worker = $2 AND state = 'running'`,
      [ids, this.#jobs.name, this.#jobs.clock.now() + delay],
    );
  }

  #giveBack(records: JobRecord[]): void {
    if (records.length === 0) return;
    // On failure their leases lapse and they run again.
    this.#track(this.#release(records.map((r) => r.id)).catch((failure) => this.#fail('release', failure)));
  }

  /** Remembers a database write, so that stop() resolves only once every outcome is written. */
  #track(write: Promise<unknown>): void {
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  async #fetch(limit: number): Promise<JobRecord[]> {
    try {
      const { rows } = await this.#jobs.db.query(
        `SELECT * FROM ${this.#jobs.schema}.fetch_jobs($1, $2, $3, $4, $5)`,
        [this.queue, this.#jobs.clock.now(), this.#lease, this.#jobs.name, limit],
      );
      return rows.map(toJobRecord);
    } catch (error) {
      this.#fail('fetch', error);
      return [];
    }
  }

  #run(record: JobRecord): void {
    const clock = this.#jobs.clock;
    const controller = new AbortController();
    const limit = record.timeoutMs ?? this.#timeout;
    const run: Run = {
      record,
      controller,
      started: clock.monotonic(),
      settled: false,
      timer: { cancel() {} },
    };
    run.timer = clock.setTimeout(
      () =>
        this.#cut(
          run,
          'timeout',
          jobErrors.create('HR_JOB_TIMEOUT', `job ${record.id} ran past ${limit} ms`),
        ),
      limit,
    );
    this.#running.set(record.id, run);
    if (this.#started.active || this.#jobs.events.started.active) {
      const event: JobStartEvent = {
        queue: this.queue,
        id: record.id,
        tenant: record.tenant,
        attempt: record.attempts,
        waitMs: Math.max(0, (record.startedAt ?? clock.now()) - record.runAt),
      };
      this.#started.emit(event);
      this.#jobs.events.started.emit(event);
    }
    const job: RunningJob = {
      id: record.id,
      queue: record.queue,
      tenant: record.tenant,
      payload: record.payload,
      attempt: record.attempts,
      maxAttempts: record.maxAttempts,
      createdAt: record.createdAt,
      progress: (percent, message) => this.#progress(run, percent, message),
    };
    if (this.#cancelled.delete(record.id)) {
      this.#cut(run, 'cancelled', jobErrors.create('HR_JOB_CANCELLED', `job ${record.id} was cancelled`));
      return;
    }
    new Promise((resolve) => resolve(this.#handler(job, controller.signal))).then(
      (result) => this.#settle(run, undefined, result),
      (error) => this.#settle(run, error, undefined),
    );
  }

  /** The handler settled: record the outcome, unless the attempt was already cut (timeout, cancel, release). */
  #settle(run: Run, error: unknown, result: unknown): void {
    if (run.settled) return;
    if (error === undefined) {
      this.#end(run);
      let text: string;
      try {
        text = JSON.stringify(result ?? null);
      } catch (failure) {
        this.#failAttempt(run, 'error', failure); // a result that is no JSON (a cycle, a BigInt)
        return;
      }
      // On failure their leases lapse and they run again: never lost.
      this.#track(
        this.#completed.add({ run, result: text }).catch((failure) => this.#fail('complete', failure)),
      );
    } else if (isHeadroomError(error) && error.code === 'HR_JOB_POSTPONED') {
      this.#end(run);
      const delay = Math.min(this.#maxRetryAfter, retryAfterOf(error.context) ?? 0);
      this.#write('release', run, 'postponed', () => this.#release([run.record.id], delay));
    } else {
      this.#failAttempt(run, 'error', error);
    }
  }

  /** Ends an attempt before its handler settled: aborts its signal with `reason`. */
  #cut(run: Run, cut: Cut, reason: Error): void {
    if (run.settled) return;
    run.controller.abort(reason);
    if (cut === 'timeout') {
      this.#failAttempt(run, 'timeout', reason);
    } else if (cut === 'cancelled') {
      this.#end(run); // the row already says cancelled (or another worker took it over)
      this.#emitEnd(run, 'cancelled');
    } else {
      this.#end(run);
      this.#write('release', run, 'released', () => this.#release([run.record.id]));
    }
  }

  #failAttempt(run: Run, reason: 'error' | 'timeout', error: unknown): void {
    this.#end(run);
    const { record } = run;
    const dead = record.attempts >= record.maxAttempts;
    let delay = 0;
    if (!dead) {
      delay = this.#retryDelay
        ? this.#retryDelay(record.attempts, error)
        : this.#backoff.delay(record.attempts);
      const asked = retryAfterOf(error);
      if (asked !== undefined) delay = Math.max(delay, Math.min(asked, this.#maxRetryAfter));
      delay = Math.max(0, Math.round(Number.isFinite(delay) ? delay : 0));
      run.retryNow = delay === 0;
    }
    const now = this.#jobs.clock.now();
    this.#write(
      'fail',
      run,
      dead ? 'dead' : 'retry',
      () =>
        this.#jobs.db.query(
          `UPDATE ${this.#jobs.schema}.jobs SET state = $3, run_at = $4, finished_at = $5, last_error = $6,
             reason = $7, worker = NULL, lease_until = NULL
           WHERE id = $1 AND worker = $2 AND state = 'running'`,
          [
            record.id,
            this.#jobs.name,
            dead ? 'dead' : 'ready',
            now + delay,
            dead ? now : null,
            describe(error),
            reason,
          ],
        ),
      reason,
      error,
    );
  }

  /** Frees the attempt's slot and its timer; the slot may take another job at once. */
  #end(run: Run): void {
    run.settled = true;
    run.timer.cancel();
    this.#running.delete(run.record.id);
    if (this.#running.size === 0) this.#drained?.();
    if (this.#more) this.wake();
  }

  async #writeCompleted(batch: { run: Run; result: string }[]): Promise<undefined[]> {
    await this.#jobs.db.query(
      `UPDATE ${this.#jobs.schema}.jobs AS j SET state = 'done', finished_at = $3, progress = 100,
         result = c.result::jsonb, lease_until = NULL
       FROM unnest($1::bigint[], $4::text[]) AS c(id, result)
       WHERE j.id = c.id AND j.worker = $2 AND j.state = 'running'`,
      [
        batch.map((c) => c.run.record.id),
        this.#jobs.name,
        this.#jobs.clock.now(),
        batch.map((c) => c.result),
      ],
    );
    for (const { run } of batch) this.#emitEnd(run, 'done');
    // A job under a tenant or group limit freed a place a fetch may have skipped jobs for: look again.
    if (batch.some(({ run }) => limited(run.record))) this.wake();
    return [];
  }

  #write(
    operation: JobWorkerErrorEvent['operation'],
    run: Run,
    outcome: JobOutcome,
    statement: () => Promise<unknown>,
    reason?: 'error' | 'timeout',
    error?: unknown,
  ): void {
    const write = statement().then(
      () => {
        this.#emitEnd(run, outcome, reason, error);
        // A job given back, or to be retried at once, is ready only now that this is written: look again
        // (the look its freed slot made came too early to see it).
        // A job under a tenant or group limit freed a place a fetch may have skipped jobs for.
        if (
          outcome === 'released' ||
          outcome === 'postponed' ||
          (outcome === 'retry' && run.retryNow) ||
          limited(run.record)
        )
          this.wake();
      },
      (failure) => this.#fail(operation, failure), // the lease lapses and the job runs again: never lost
    );
    this.#track(write);
  }

  #emitEnd(run: Run, outcome: JobOutcome, reason?: 'error' | 'timeout', error?: unknown): void {
    if (!this.#ended.active && !this.#jobs.events.ended.active) return;
    const event: JobEndEvent = {
      queue: this.queue,
      id: run.record.id,
      tenant: run.record.tenant,
      attempt: run.record.attempts,
      outcome,
      ...(reason ? { reason } : {}),
      runMs: this.#jobs.clock.monotonic() - run.started,
      ...(error === undefined ? {} : { error }),
    };
    this.#ended.emit(event);
    this.#jobs.events.ended.emit(event);
  }

  async #progress(run: Run, percent: number, message?: string): Promise<void> {
    if (run.settled) return;
    const value = Math.min(100, Math.max(0, Math.round(Number(percent) || 0)));
    try {
      await this.#jobs.db.query(
        `UPDATE ${this.#jobs.schema}.jobs SET progress = $3, message = $4
         WHERE id = $1 AND worker = $2 AND state = 'running'`,
        [run.record.id, this.#jobs.name, value, message ?? null],
      );
    } catch (error) {
      this.#fail('progress', error);
    }
  }

  #schedulePoll(): void {
    this.#poll = this.#jobs.clock.setTimeout(() => {
      this.wake();
      if (!this.#stopping) this.#schedulePoll();
    }, this.#pollInterval);
  }

  // Leases of the running jobs, renewed in one statement; a job the row no longer gives this worker
  // (cancelled, or reaped after a missed renewal) is cut.
  #scheduleHeartbeat(): void {
    this.#heartbeat = this.#jobs.clock.setTimeout(
      async () => {
        await this.#renew();
        if (!this.#stopping || this.#running.size > 0) this.#scheduleHeartbeat();
      },
      Math.floor(this.#lease / 3),
    );
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (ids.length === 0) return;
    try {
      const { rows } = await this.#jobs.db.query(
        `UPDATE ${this.#jobs.schema}.jobs SET lease_until = $3::bigint + $4::bigint
         WHERE id = ANY($1::bigint[]) AND worker = $2 AND state = 'running' RETURNING id`,
        [ids, this.#jobs.name, this.#jobs.clock.now(), this.#lease],
      );
      const kept = new Set(rows.map((row) => String(row.id)));
      for (const id of ids) {
        const run = this.#running.get(id);
        if (run && !kept.has(id)) {
          this.#cut(
            run,
            'cancelled',
            jobErrors.create('HR_JOB_CANCELLED', `job ${id} is no longer this worker's`),
          );
        }
      }
    } catch (error) {
      this.#fail('heartbeat', error);
    }
  }

  // Jobs whose lease lapsed (their worker died or lost the database): back to ready, or dead when out of
  // attempts. Any worker of the queue does it.
  #scheduleReap(): void {
    this.#reaper = this.#jobs.clock.setTimeout(
      async () => {
        try {
          const now = this.#jobs.clock.now();
          const { rows } = await this.#jobs.db.query(
            `UPDATE ${this.#jobs.schema}.jobs SET
             state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END,
             finished_at = CASE WHEN attempts >= max_attempts THEN $2 ELSE NULL END,
             run_at = $2, worker = NULL, lease_until = NULL, reason = 'lease-expired',
             last_error = 'the lease lapsed: its worker stopped renewing it (killed, or cut off from the database)'
           WHERE queue = $1 AND state = 'running' AND lease_until < $2 RETURNING id`,
            [this.queue, now],
          );
          if (rows.length > 0) this.wake();
        } catch (error) {
          this.#fail('reap', error);
        }
        if (!this.#stopping) this.#scheduleReap();
      },
      Math.floor(this.#lease / 2),
    );
  }

  #fail(operation: JobWorkerErrorEvent['operation'], error: unknown): void {
    const event: JobWorkerErrorEvent = { queue: this.queue, operation, error };
    this.#failed.emit(event);
    this.#jobs.events.failed.emit(event);
  }
}

/** Whether a job counts against a tenant or group limit: its end may let a skipped job run. */
function limited(record: JobRecord): boolean {
  return record.tenantLimit !== null || record.groupLimit !== null;
}

function describe(error: unknown): string {
  if (isHeadroomError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 2_000);
  return String(error).slice(0, 2_000);
}
