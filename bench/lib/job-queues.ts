// The PostgreSQL job queues bench/jobs-libraries.ts compares (Headroom's own, graphile-worker, pg-boss), behind
// one small interface so every measurement drives them the same way: enqueue from a shared producer pool (one
// job per call, no batching), enqueue through a caller's own pg client, run a handler with N workers, count
// what is left.

import { randomUUID } from 'node:crypto';
import { createJobs, jobsSchemaSql } from '@headroom/core/jobs';
import { run as graphileRun, Logger, makeWorkerUtils, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { type Db, PgBoss } from 'pg-boss';

export type Handler = (data: { i: number }) => Promise<void> | void;

export interface WorkOptions {
  concurrency: number;
  /** Group (tenant) of a job → at most this many of its jobs run at once; undefined: no grouping. */
  groupConcurrency?: number;
}

export interface Contender {
  readonly name: string;
  /** Schema, queue; `notes` says which settings were chosen. */
  setup(queue: string): Promise<void>;
  readonly notes: string[];
  /** What `groupConcurrency` (the fairness bench's "grouped") means for this queue. */
  readonly grouping: string;
  /** One job, one statement, through the shared producer pool. */
  enqueue(queue: string, data: { i: number }, group?: string): Promise<void>;
  /** Many jobs in one statement: setup only (the fairness backlog), never measured. */
  enqueueMany(queue: string, count: number, group?: string): Promise<void>;
  /** One job through the caller's client (inside the caller's transaction); returns its key. */
  enqueueIn(client: pg.ClientBase, queue: string): Promise<string>;
  /** Whether the job enqueued with `key` exists, read through the producer pool. */
  exists(queue: string, key: string): Promise<boolean>;
  work(queue: string, options: WorkOptions, handler: Handler): Promise<{ stop(): Promise<void> }>;
  /** Jobs of `queue` not yet completed. */
  pending(queue: string): Promise<number>;
  clear(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** A pg-boss database adapter over a pg pool or client: how pg-boss reaches a caller's transaction. */
const adapter = (q: pg.Pool | pg.ClientBase): Db => ({
  executeSql: (text, values) => q.query(text, values as unknown[]),
});

/**
 * pg-boss with its fastest documented wake-up: `useListenNotify` on the instance and `notify: true` on
 * each queue (NOTIFY in the insert's transaction), polling at its 0.5 s floor as the safety net.
 */
export function pgBoss(url: string, producer: pg.Pool, workerPoolMax: number): Contender {
  const boss = new PgBoss({
    connectionString: url,
    max: workerPoolMax,
    useListenNotify: true,
    schedule: false,
    supervise: false,
    registerInstance: false,
    queueCacheIntervalSeconds: 1,
    openTelemetry: { enabled: false },
  });
  boss.on('error', (e) => console.error('pg-boss error:', e.message));
  const db = adapter(producer);
  let started = false;
  return {
    name: 'pg-boss',
    grouping: 'groupConcurrency 3 per tenant',
    notes: [
      'useListenNotify: true, queue notify: true, notifyPollingIntervalSeconds 0.5, pollingIntervalSeconds 0.5',
      'batchSize 1, localConcurrency = workers, burstWhenReadyExceeds 1 (its minimum; the cached ready count is refreshed first), retryLimit 0',
      'queueCacheIntervalSeconds 1, supervise/schedule off (no maintenance during the run)',
    ],
    async setup(queue) {
      if (!started) await boss.start();
      started = true;
      await boss.createQueue(queue, { notify: true, retryLimit: 0 });
    },
    async enqueue(queue, data, group) {
      await boss.send(queue, data, { db, ...(group ? { group: { id: group } } : {}) });
    },
    async enqueueMany(queue, count, group) {
      for (let done = 0; done < count; done += 1000) {
        const jobs = Array.from({ length: Math.min(1000, count - done) }, (_, k) => ({
          data: { i: -1 - done - k },
          ...(group ? { group: { id: group } } : {}),
        }));
        await boss.insert(queue, jobs, { db });
      }
    },
    async enqueueIn(client, queue) {
      const id = randomUUID();
      await boss.send(queue, { i: -1 }, { db: adapter(client), id });
      return id;
    },
    async exists(queue, key) {
      return (await boss.findJobs(queue, { id: key, db })).length > 0;
    },
    async work(queue, options, handler) {
      // At batchSize 1 a pg-boss worker that finishes a job fetches again at once only when a NOTIFY
      // arrived meanwhile or it is in burst mode; otherwise it waits notifyPollingIntervalSeconds.
      // Burst reads the queue's cached ready count, so it is refreshed before the workers start.
      await boss.supervise(queue);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // one queueCacheIntervalSeconds
      const id = await boss.work(
        queue,
        {
          batchSize: 1,
          localConcurrency: options.concurrency,
          pollingIntervalSeconds: 0.5,
          notifyPollingIntervalSeconds: 0.5,
          burstWhenReadyExceeds: 1,
          ...(options.groupConcurrency ? { groupConcurrency: options.groupConcurrency } : {}),
        },
        async ([job]) => {
          if (job) await handler(job.data as { i: number });
        },
      );
      return { stop: () => boss.offWork(queue, { id, wait: true }) };
    },
    async pending(queue) {
      const { rows } = await producer.query(
        `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state < 'completed'`,
        [queue],
      );
      return rows[0].n;
    },
    async clear(queue) {
      await boss.deleteAllJobs(queue);
    },
    async close() {
      await boss.stop({ graceful: false, timeout: 1000 });
    },
  };
}

/**
 * graphile-worker as its performance page runs it unbatched: LISTEN/NOTIFY always on, concurrentJobs 24
 * with a pool of 25, no localQueue, no completeJobBatchDelay; pollInterval 2 s (its default) as the net.
 */
export function graphileWorker(producer: pg.Pool, workerPool: pg.Pool): Contender {
  const logger = new Logger(() => () => {});
  let utils: Awaited<ReturnType<typeof makeWorkerUtils>> | undefined;
  return {
    name: 'graphile-worker',
    grouping: 'a queueName per tenant',
    notes: [
      'LISTEN/NOTIFY (always on), pollInterval 2000 ms (default), concurrency = workers, pool = workers + 1',
      'no localQueue, no completeJobBatchDelay/failJobBatchDelay (unbatched), maxAttempts 1',
      'grouping: a named queue per tenant (queue_name), which runs that tenant one job at a time',
    ],
    async setup() {
      if (utils) return;
      await runMigrations({ pgPool: workerPool, logger });
      utils = await makeWorkerUtils({ pgPool: producer, logger });
    },
    async enqueue(queue, data, group) {
      await utils?.addJob(queue, data, { maxAttempts: 1, ...(group ? { queueName: group } : {}) });
    },
    async enqueueMany(queue, count, group) {
      await producer.query(
        `SELECT graphile_worker.add_jobs(array_agg((
           $1::text, json_build_object('i', -g), $2::text, NULL::timestamptz, 1::smallint, NULL::text,
           NULL::smallint, NULL::text[]
         )::graphile_worker.job_spec)) FROM generate_series(1, $3) AS g`,
        [queue, group ?? null, count],
      );
    },
    async enqueueIn(client, queue) {
      const key = randomUUID();
      await client.query(
        `SELECT graphile_worker.add_job($1, json_build_object('i', -1), job_key => $2, max_attempts => 1::smallint)`,
        [queue, key],
      );
      return key;
    },
    async exists(_queue, key) {
      const { rowCount } = await producer.query('SELECT 1 FROM graphile_worker.jobs WHERE key = $1', [key]);
      return (rowCount ?? 0) > 0;
    },
    async work(queue, options, handler) {
      const runner = await graphileRun({
        pgPool: workerPool,
        concurrency: options.concurrency,
        pollInterval: 2000,
        noHandleSignals: true,
        crontab: '',
        logger,
        taskList: {
          [queue]: async (payload) => {
            await handler(payload as { i: number });
          },
        },
      });
      return { stop: () => runner.stop() };
    },
    async pending(queue) {
      const { rows } = await producer.query(
        'SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = $1',
        [queue],
      );
      return rows[0].n;
    },
    async clear(queue) {
      await producer.query(
        'DELETE FROM graphile_worker._private_jobs WHERE task_id IN (SELECT id FROM graphile_worker._private_tasks WHERE identifier = $1)',
        [queue],
      );
    },
    async close() {
      await utils?.release();
    },
  };
}

/**
 * Headroom's own queue (`@headroom/core/jobs`) as an app wires it: statements through a pool, LISTEN through
 * one dedicated pg.Client, polling at its default 1 s as the net. Its fetch is fair between tenants by
 * itself, so "grouped" only gives each group its own tenant (there is no separate group cap), and "no
 * grouping" puts every job in one tenant (FIFO).
 */
export function headroomJobs(url: string, producer: pg.Pool, workerPool: pg.Pool): Contender {
  const jobs = createJobs({
    db: workerPool,
    listen: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    },
  });
  jobs.onError((e) => console.error(`headroom jobs ${e.operation}:`, (e.error as Error).message));
  let ready = false;
  return {
    name: 'headroom',
    grouping: 'a tenant per group (fetch_jobs is fair by tenant; no group cap)',
    notes: [
      'LISTEN through one dedicated pg.Client (listen option), pollInterval 1000 ms (default), concurrency = workers, pool = workers + 1',
      'enqueue: one INSERT … pg_notify statement through the producer pool; maxAttempts 5, lease 30 s, timeout 60 s (defaults; no handler throws)',
      'no grouping: every job in tenant ""; grouped: tenant = group (groupConcurrency ignored); get() reads through the worker pool',
    ],
    async setup() {
      if (ready) return;
      await workerPool.query(jobsSchemaSql());
      ready = true;
    },
    async enqueue(queue, data, group) {
      await jobs.enqueue(producer, queue, data, { tenant: group ?? '' });
    },
    async enqueueMany(queue, count, group) {
      await producer.query(
        `INSERT INTO headroom.jobs (queue, tenant, payload, run_at, created_at)
         SELECT $1, $2, jsonb_build_object('i', -g), $3, $3 FROM generate_series(1, $4) AS g`,
        [queue, group ?? '', Date.now(), count],
      );
    },
    async enqueueIn(client, queue) {
      return (await jobs.enqueue(client, queue, { i: -1 })).id;
    },
    async exists(_queue, key) {
      return (await jobs.get(key)) !== undefined;
    },
    async work(queue, options, handler) {
      const worker = jobs.work(queue, (job) => handler(job.payload as { i: number }), {
        concurrency: options.concurrency,
      });
      return { stop: () => worker.stop() };
    },
    async pending(queue) {
      const { rows } = await producer.query(
        `SELECT count(*)::int AS n FROM headroom.jobs WHERE queue = $1 AND state IN ('ready', 'running')`,
        [queue],
      );
      return rows[0].n;
    },
    async clear(queue) {
      await producer.query('DELETE FROM headroom.jobs WHERE queue = $1', [queue]);
    },
    async close() {
      await jobs.stop(1000);
    },
  };
}
