// The app's job queues, as metrics, health and admin see them: `app.headroom.jobs.add(jobs)` subscribes to the
// workers' events and reads the queues' counts when /metrics or /health asks (the queue knows nothing of
// Prometheus).

import type { Clock } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import type { Jobs, QueueCounts } from '@headroom/core/jobs';
import { Gauge, type Registry } from 'prom-client';
import type { HealthCheck } from './health.ts';
import { CounterFamily, HistogramFamily } from './metric-series.ts';

/** Options of `app.headroom.jobs.add`. */
export interface TrackJobsOptions {
  /** A queue whose oldest ready job has waited longer than this (ms) warns in /health. @default 60_000 */
  warnAfter?: number;
  /**
   * A queue whose dead-letter count grew within this many ms warns in /health (jobs that ran out of attempts:
   * webhook deliveries that gave up, say). @default 900_000 (15 min)
   */
  deadWindow?: number;
}

/**
 * What `app.headroom.jobs` offers.
 *
 * @example
 * app.headroom.jobs.add(createJobs({ db: pool, listen }), { warnAfter: 30_000 });
 */
export interface JobRegistry {
  /**
   * Tracks a queue client: `headroom_jobs{queue,state}`, wait and run time histograms and failures by reason
   * in /metrics, a `jobs:<queue>` check per queue in /health, and the admin queue routes. Returns it.
   */
  add(jobs: Jobs, options?: TrackJobsOptions): Jobs;
  /** The tracked queue client, if any. */
  readonly jobs: Jobs | undefined;
  /** Counts of every queue, read at most once a second (metrics and health share them). */
  counts(): Promise<QueueCounts[]>;
  /**
   * One check per queue: `warn` while paused, while its oldest ready job waits past `warnAfter`, or while its
   * dead-letter count has grown within `deadWindow`.
   */
  checks(): Promise<Record<string, HealthCheck>>;
}

const states = ['ready', 'scheduled', 'running', 'dead'] as const;

/**
 * Registers the job metrics in `registry`: `headroom_jobs{queue,state}` (ready, scheduled, running, dead),
 * `headroom_jobs_oldest_ready_seconds{queue}`, `headroom_job_wait_seconds{queue}` (from when a job could run to
 * its start), `headroom_job_run_seconds{queue,outcome}` and `headroom_job_failures_total{queue,reason}`.
 *
 * @example
 * const jobs = createJobRegistry(registry, clock);
 */
export function createJobRegistry(registry: Registry, clock: Clock): JobRegistry {
  let tracked: Jobs | undefined;
  let warnAfter = 60_000;
  let deadWindow = 900_000;
  // Per queue: the dead count last seen, and since when it has been growing (the count before the growth).
  const dead = new Map<string, { count: number; grewAt: number; from: number }>();
  const watchDead = (found: QueueCounts[]) => {
    const now = clock.monotonic();
    for (const q of found) {
      const seen = dead.get(q.queue);
      if (seen === undefined) {
        dead.set(q.queue, { count: q.dead, grewAt: Number.NEGATIVE_INFINITY, from: q.dead });
      } else if (q.dead > seen.count) {
        if (now - seen.grewAt >= deadWindow) seen.from = seen.count; // a new growth, not the same one
        seen.grewAt = now;
        seen.count = q.dead;
      } else {
        seen.count = q.dead; // redriven or swept
      }
    }
  };
  let cached: { at: number; counts: Promise<QueueCounts[]> } | undefined;
  const counts = (): Promise<QueueCounts[]> => {
    if (!tracked) return Promise.resolve([]);
    const now = clock.monotonic();
    if (cached === undefined || now - cached.at >= 1_000) {
      const read = tracked.counts();
      read.then(watchDead, () => {});
      cached = { at: now, counts: read };
      read.catch(() => {
        if (cached?.counts === read) cached = undefined; // a failed read is not kept
      });
    }
    return cached.counts;
  };
  new Gauge({
    name: 'headroom_jobs',
    help: 'Jobs by queue and state (ready: may run now; scheduled: waiting for a retry or a set time).',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of await counts().catch(() => [])) {
        for (const state of states) this.set({ queue: queue.queue, state }, queue[state]);
      }
    },
  });
  new Gauge({
    name: 'headroom_jobs_oldest_ready_seconds',
    help: 'How long the oldest job that may run now has waited, by queue.',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of await counts().catch(() => [])) {
        this.set({ queue: queue.queue }, queue.oldestReadyMs / 1000);
      }
    },
  });
  const wait = new HistogramFamily({
    name: 'headroom_job_wait_seconds',
    help: 'From when a job could run (enqueued, or its retry came due) to its start.',
    labelNames: ['queue'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const run = new HistogramFamily({
    name: 'headroom_job_run_seconds',
    help: 'How long an attempt ran, by how it ended (done, retry, dead, cancelled, released).',
    labelNames: ['queue', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const failures = new CounterFamily({
    name: 'headroom_job_failures_total',
    help: 'Failed attempts by reason (error: the handler threw; timeout: it ran past its limit).',
    labelNames: ['queue', 'reason'] as const,
    registers: [registry],
  });
  return {
    get jobs() {
      return tracked;
    },
    add(jobs, options = {}) {
      if (tracked !== undefined) {
        throw invalidOption('app.headroom.jobs.add', 'jobs', 'one queue client per app', jobs);
      }
      warnAfter = options.warnAfter ?? warnAfter;
      if (!(Number.isFinite(warnAfter) && warnAfter > 0)) {
        throw invalidOption('app.headroom.jobs.add', 'warnAfter', 'a number of ms > 0', options.warnAfter);
      }
      deadWindow = options.deadWindow ?? deadWindow;
      if (!(Number.isFinite(deadWindow) && deadWindow > 0)) {
        throw invalidOption('app.headroom.jobs.add', 'deadWindow', 'a number of ms > 0', options.deadWindow);
      }
      tracked = jobs;
      jobs.onStart((e) => wait.labels(e.queue).observe(e.waitMs / 1000));
      jobs.onEnd((e) => {
        run.labels(e.queue, e.outcome).observe(e.runMs / 1000);
        if (e.reason) failures.labels(e.queue, e.reason).inc();
      });
      return jobs;
    },
    counts,
    async checks() {
      if (!tracked) return {};
      let found: QueueCounts[];
      try {
        found = await counts();
      } catch {
        return { jobs: { status: 'warn', output: 'the queue counts could not be read' } };
      }
      const checks: Record<string, HealthCheck> = {};
      for (const q of found) {
        const depth = `${q.ready} ready, ${q.scheduled} scheduled, ${q.running} running, ${q.dead} dead; oldest ready waited ${(q.oldestReadyMs / 1000).toFixed(1)} s`;
        const late = q.oldestReadyMs > warnAfter;
        const seen = dead.get(q.queue);
        const growing = seen !== undefined && clock.monotonic() - seen.grewAt < deadWindow;
        const grew = growing ? `dead letters growing (${seen.from} → ${seen.count}); ` : '';
        checks[`jobs:${q.queue}`] =
          q.paused || late || growing
            ? {
                status: 'warn',
                output: `${q.paused ? 'paused; ' : ''}${late ? 'backlog; ' : ''}${grew}${depth}`,
              }
            : { status: 'pass', output: depth };
      }
      return checks;
    },
  };
}
