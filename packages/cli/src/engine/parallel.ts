// A run split across worker threads, for more than one core: every thread takes every n-th arrival of
// one shared schedule (or its share of the virtual users), and their histograms merge exactly.

import { Worker } from 'node:worker_threads';
import type { Scenario } from '../scenario/scenario.ts';
import { RouteStats, type RouteStatsJson } from '../stats/route-stats.ts';
import { type RunOptions, type RunResult, runSetup, type TimelinePoint } from './run.ts';

// The worker is this module's sibling: worker.ts in the repository, worker.js in the published build, where the
// compiler rewrites import specifiers but not URLs.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

export interface WorkerInput {
  scenarioFile: string;
  target: string;
  routes: string[];
  phases: Readonly<Record<string, readonly string[]>>;
  connections: number;
  warmConnections: number;
  shard: { index: number; count: number };
  setupValues: Record<string, unknown>;
}

export type WorkerOutput = Omit<RunResult, 'cells' | 'seconds'> & { cells: RouteStatsJson[] };

/** What a load thread posts: that it has loaded (and waits for its start), then its figures. */
export type WorkerMessage = { ready: true } | WorkerOutput;

/** What the main thread posts once every thread has loaded: when the first stage starts (absolute ms). */
export interface StartMessage {
  startAt: number;
}

/**
 * Runs `scenario` (loaded from `scenarioFile`) on `workers` threads and merges their results.
 *
 * @example
 * const result = await runParallel(scenario, 'scenarios/peak.yaml', { workers: 2, routes });
 */
export async function runParallel(
  scenario: Scenario,
  scenarioFile: string,
  options: Pick<RunOptions, 'routes' | 'phases' | 'connections' | 'warmConnections'> & {
    workers: number;
    /**
     * Called once every thread has loaded, with the first stage's start on the performance clock (ms), before
     * the threads are told it: a caller can start other work in step with the run, after the threads' start-up.
     */
    onStart?: (startMs: number) => void;
  },
): Promise<RunResult> {
  const setup = await runSetup(scenario);
  if (setup.errors.length > 0) return emptyResult(scenario, setup.errors);
  // A barrier: each thread says when it has loaded, then all get one start time. A fixed lead (it was 200 ms)
  // is too short for a thread that compiles the engine on a busy machine: every arrival then starts late.
  const ready: Promise<void>[] = [];
  const workers: Worker[] = [];
  const results = Array.from({ length: options.workers }, (_, index) => {
    const input: WorkerInput = {
      scenarioFile,
      target: scenario.target,
      routes: options.routes ?? [],
      phases: options.phases ?? {},
      connections: Math.max(1, Math.ceil((options.connections ?? 256) / options.workers)),
      warmConnections: Math.ceil((options.warmConnections ?? 0) / options.workers),
      shard: { index, count: options.workers },
      setupValues: setup.values,
    };
    const worker = new Worker(workerUrl, { workerData: input });
    workers.push(worker);
    let loaded!: () => void;
    ready.push(
      new Promise<void>((resolve) => {
        loaded = resolve;
      }),
    );
    return new Promise<WorkerOutput>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if ('ready' in message) loaded();
        else resolve(message);
      });
      worker.once('error', reject);
      worker.once(
        'exit',
        (code) => code !== 0 && reject(new Error(`load worker ${index} exited with ${code}`)),
      );
    });
  });
  try {
    // A thread that failed to load rejects its result: stop waiting for the others to be ready then.
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    const startMs = performance.now() + 20;
    options.onStart?.(startMs);
    const startAt = performance.timeOrigin + startMs;
    for (const worker of workers) worker.postMessage({ startAt } satisfies StartMessage);
    return mergeResults(await Promise.all(results));
  } catch (error) {
    // The others would wait for a start that never comes, and keep the process alive.
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw error;
  }
}

/** Adds shard results: cells exactly, counters summed, generator delay the worst of the threads. */
export function mergeResults(outputs: WorkerOutput[]): RunResult {
  const [first] = outputs;
  if (!first) throw new Error('no results to merge');
  const cells = new Map<string, RouteStats>();
  for (const output of outputs) {
    for (const json of output.cells) {
      const key = `${json.stage}\u0000${json.route}`;
      const cell = RouteStats.fromJSON(json);
      const existing = cells.get(key);
      if (existing) existing.merge(cell);
      else cells.set(key, cell);
    }
  }
  const stages = first.stages.map((stage, i) => {
    const all = outputs.map((o) => o.stages[i]!);
    const sum = (pick: (s: typeof stage) => number) => all.reduce((acc, s) => acc + pick(s), 0);
    return {
      ...stage,
      iterations: sum((s) => s.iterations),
      dropped: sum((s) => s.dropped),
      lateStarts: sum((s) => s.lateStarts),
      achievedRate: sum((s) => s.achievedRate),
    };
  });
  const timeline = new Map<number, TimelinePoint>();
  for (const point of outputs.flatMap((o) => o.timeline)) {
    const at = timeline.get(point.t);
    // Per-second percentiles of shards cannot be added; the chart shows the worst shard's.
    if (at)
      timeline.set(point.t, {
        t: point.t,
        requests: at.requests + point.requests,
        errors: at.errors + point.errors,
        p50: Math.max(at.p50, point.p50),
        p95: Math.max(at.p95, point.p95),
        p99: Math.max(at.p99, point.p99),
        codes: addCounts(at.codes ?? {}, point.codes ?? {}),
        networkErrors: (at.networkErrors ?? 0) + (point.networkErrors ?? 0),
      });
    else timeline.set(point.t, { ...point });
  }
  const worst = (pick: (o: WorkerOutput) => number) => Math.max(...outputs.map(pick));
  return {
    ...first,
    durationMs: worst((o) => o.durationMs),
    stages,
    cells: [...cells.values()],
    timeline: [...timeline.values()].sort((a, b) => a.t - b.t),
    // Per-second cells stay in their threads: spike verdicts need a run on one thread.
    seconds: [],
    eventLoopDelayMs: {
      p50: worst((o) => o.eventLoopDelayMs.p50),
      p99: worst((o) => o.eventLoopDelayMs.p99),
      max: worst((o) => o.eventLoopDelayMs.max),
    },
  };
}

function emptyResult(scenario: Scenario, setupErrors: string[]): RunResult {
  return {
    scenario: scenario.name,
    target: scenario.target,
    model: scenario.model,
    judgeThroughput: scenario.judgeThroughput,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    stages: [],
    cells: [],
    eventLoopDelayMs: { p50: 0, p99: 0, max: 0 },
    setupErrors,
    timeline: [],
    seconds: [],
  };
}

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [key, n] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + n;
  return sum;
}
