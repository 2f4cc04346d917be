// Runs a scenario against its target: open model (iterations start on schedule, latency from the
// intended start; open-model.ts) or closed model (virtual users with think time; closed-model.ts), after the
// setup steps (setup.ts), with a second-by-second timeline (timeline.ts). This file runs the iterations and
// files every answer under its stage and route template.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClosedStage, Flow, OpenStage, Scenario, SoakCriteria, Step } from '../scenario/scenario.ts';
import type { TemplateContext } from '../scenario/template.ts';
import { RouteStats, refusalStatuses } from '../stats/route-stats.ts';
import { runClosedModel } from './closed-model.ts';
import { runOpenModel } from './open-model.ts';
import { compilePlainFlow, PlainIteration, type PlainStep, type RecordAnswer } from './plain-flow.ts';
import { seededRandom } from './random.ts';
import { renderRequest, type StepOutcome, sendStep } from './request.ts';
import { routeMatcher } from './route-matcher.ts';
import { ServerTimingPhases } from './server-timing.ts';
import { type MemorySample, startMemorySampler } from './target-memory.ts';
import { startTimeline, type TimelinePoint, type WindowPoint } from './timeline.ts';
import { createTransport } from './transport.ts';

export interface StageReport {
  name: string;
  judge: boolean;
  durationMs: number;
  /** Open model: iterations/s asked for (mean over a ramp) and achieved. */
  targetRate?: number;
  achievedRate: number;
  iterations: number;
  /** Iterations not started because `maxInflight` were in flight. */
  dropped: number;
  /** Requests sent more than 10 ms after their intended start (the generator or the pool fell behind). */
  lateStarts: number;
}

export { runSetup } from './setup.ts';
/** One second of a run, for charts: requests completed, errors, and latency percentiles (corrected). */
export type { TimelinePoint } from './timeline.ts';

export interface RunResult {
  scenario: string;
  target: string;
  model: 'open' | 'closed';
  startedAt: string;
  durationMs: number;
  /** Whether the scenario offers enough load for throughput floors to be judged. */
  judgeThroughput: boolean;
  stages: StageReport[];
  cells: RouteStats[];
  /** Generator health: a busy event loop delays sends and skews figures. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  setupErrors: string[];
  timeline: TimelinePoint[];
  /**
   * Each second's answers in full (its `stage` is the second, from the first stage's start), for verdicts
   * over spans of seconds; kept in memory, not in the artifact, and only for a scenario with a spike block.
   * Empty for runs split over threads.
   */
  seconds: RouteStats[];
  /** A soak's stage cut into windows, each with its admitted p95 (only for a scenario with a soak block). */
  windows?: WindowPoint[];
  /** The target's resident memory, read from its `/metrics` through the run (only with a soak block). */
  memory?: { samples: MemorySample[]; failures: string[] };
  /** Why the run stopped before its schedule ended, if it did. */
  aborted?: string;
}

/** Which share of the load this process makes: arrival n belongs to shard n mod count. */
export interface Shard {
  index: number;
  count: number;
}

export interface RunOptions {
  /** Run only this shard of the arrivals (or of the virtual users): see runParallel. */
  shard?: Shard;
  /** When the stages start, as an absolute time (`performance.timeOrigin + performance.now()`), so that
   * shards in several threads share one schedule. @default 20 ms from now */
  startAt?: number;
  /**
   * Called once everything before the first arrival is done (setup, warm connections); resolves with the
   * start time (as `startAt`). Threads of one run use it as a barrier: see runParallel.
   */
  ready?: () => Promise<number>;
  /** Variables from a setup already run elsewhere (the main thread); setup is then skipped here. */
  setupValues?: Record<string, unknown>;
  /** Route templates to name requests by (the spec's). */
  routes?: string[];
  /**
   * Phases to read from each answer's `Server-Timing`, by route template (the spec's phase budgets: see
   * phaseNames). Other routes' answers are not searched for the header.
   */
  phases?: Readonly<Record<string, readonly string[]>>;
  /** Sockets to the target. @default 256 */
  connections?: number;
  /**
   * Sockets opened before the first arrival, as a load balancer keeps warm connections to its backends: the
   * first second then measures the server, not a burst of TCP handshakes (which, near capacity, leaves a
   * backlog that never drains). http: targets only. @default 0
   */
  warmConnections?: number;
  /** Checked about once a second with the cells so far; a reason stops the run early (no new iterations). */
  abortWhen?: (cells: readonly RouteStats[]) => string | undefined;
  /** Headers for reading the target's `/metrics` during a soak (a bearer token for a protected endpoint). */
  metricsHeaders?: Record<string, string>;
  /** Called about once a second with the cells so far. */
  onProgress?: (progress: {
    elapsedMs: number;
    stage: string;
    requests: number;
    errors: number;
    recent: RouteStats;
  }) => void;
}

const lateThresholdMs = 10;

/**
 * Runs `scenario` and returns its figures.
 *
 * @example
 * const result = await runScenario(await loadScenario('scenarios/normal.yaml'), { routes });
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const transport = createTransport(scenario.target, {
    connections: options.connections ?? 256,
    timeoutMs: scenario.timeoutMs,
    now,
  });
  const shard = options.shard ?? { index: 0, count: 1 };
  const random = seededRandom(scenario.seed + shard.index);
  const nameRoute = routeMatcher(options.routes ?? []);
  const phaseSets = new Map(
    Object.entries(options.phases ?? {}).map(([route, names]) => [route, new ServerTimingPhases(names)]),
  );
  const phasesOf = (route: string) => phaseSets.get(route);
  /** Per stage: route template → its cell. */
  const cells = scenario.stages.map(() => new Map<string, RouteStats>());
  const loopResolutionMs = 5;
  const loop = monitorEventLoopDelay({ resolution: loopResolutionMs });
  const startedAt = new Date().toISOString();
  const recent = new RouteStats('', 'recent');
  let requests = 0;
  let errors = 0;

  const stageReports: StageReport[] = scenario.stages.map((s) => ({
    name: s.name,
    judge: s.judge,
    durationMs: s.durationMs,
    ...('rate' in s
      ? { targetRate: ((s as OpenStage).rate + ((s as OpenStage).to ?? (s as OpenStage).rate)) / 2 }
      : {}),
    achievedRate: 0,
    iterations: 0,
    dropped: 0,
    lateStarts: 0,
  }));

  const cell = (stage: number, route: string) => {
    const byRoute = cells[stage]!;
    let found = byRoute.get(route);
    if (!found) {
      found = new RouteStats(scenario.stages[stage]!.name, route);
      byRoute.set(route, found);
    }
    return found;
  };
  const allCells = () => cells.flatMap((byRoute) => [...byRoute.values()]);

  /** One answer (or failure: `status` undefined) into its cell and the live window. */
  const record: RecordAnswer = (
    route,
    stage,
    intendedMs,
    issuedMs,
    sentMs,
    doneMs,
    status,
    checkFailed,
    timings,
  ) => {
    if (issuedMs - intendedMs > lateThresholdMs) stageReports[stage]!.lateStarts++;
    // A request issued a little before its slot (timer granularity) counts from when it was issued.
    const from = Math.min(intendedMs, issuedMs);
    const target = cell(stage, route);
    target.add(from, sentMs, doneMs, status, checkFailed);
    // Phases are judged on admitted answers, as latency is.
    if (timings !== undefined && status !== undefined && !refusalStatuses.has(status)) {
      const phases = phaseSets.get(route);
      if (phases) target.addPhases(phases.names, timings);
    }
    recent.add(from, sentMs, doneMs, status, checkFailed);
    requests++;
    if (status === undefined || status >= 500) errors++;
  };

  async function runSteps(steps: Step[], values: Record<string, unknown>, stage: number, intendedMs: number) {
    const context: TemplateContext = { values, random };
    let intended = intendedMs;
    for (const step of steps) {
      const stepPhases =
        stage >= 0 && phaseSets.size > 0
          ? (path: string) => phaseSets.get(nameRoute(step.method, path, step.path))
          : undefined;
      // A poll sends one request again and again: rendered once, so its random picks stay put.
      let rendered: ReturnType<typeof renderRequest> | undefined;
      if (step.poll) {
        try {
          rendered = renderRequest(step, context);
        } catch {
          rendered = undefined; // sendStep reports the same rendering error as a failed request
        }
      }
      const count = (answer: StepOutcome, failed: boolean) => {
        if (stage < 0) return;
        const { path, issuedMs, sentMs, doneMs, status, timings } = answer;
        record(
          nameRoute(step.method, path, step.path),
          stage,
          intended,
          issuedMs,
          sentMs,
          doneMs,
          status,
          failed,
          timings,
        );
      };
      let outcome = await sendStep(transport, step, context, now, rendered, stepPhases);
      // A poll step: its answers until the last count as requests that passed; the last fails its check
      // when `until` never held.
      for (let sent = 1; outcome.pending && step.poll; sent++) {
        if (sent >= step.poll.max) {
          outcome = { ...outcome, checkFailed: true, error: `poll: not there after ${sent} requests` };
          break;
        }
        count(outcome, false);
        await sleep(step.poll.everyMs);
        intended = now();
        outcome = await sendStep(transport, step, context, now, rendered, stepPhases);
      }
      count(outcome, outcome.checkFailed);
      if (outcome.checkFailed) return outcome;
      Object.assign(values, outcome.captured);
      // The next step of an iteration is meant to start as soon as this one answered.
      intended = outcome.doneMs;
    }
    return undefined;
  }

  // Setup: once, before the clock starts counting; its captures are shared by every iteration.
  const shared: Record<string, unknown> = { vars: scenario.vars, ...options.setupValues };
  const setupErrors: string[] = [];
  const failedSetup = options.setupValues ? undefined : await runSteps(scenario.setup, shared, -1, now());
  if (failedSetup)
    setupErrors.push(
      `${failedSetup.method} ${failedSetup.path}: ${failedSetup.error ?? `status ${failedSetup.status}`}`,
    );

  const pickFlow = weightedPicker(scenario.flows, random);
  /** Flows whose requests never change run on callbacks, prepared once. */
  const plainFlows = new Map<Flow, PlainStep[]>();
  for (const flow of scenario.flows) {
    const steps = compilePlainFlow(flow, transport, nameRoute, phasesOf);
    if (steps) plainFlows.set(flow, steps);
  }
  let localIteration = 0;
  /** Feed rows follow the global iteration number, so shards together use the rows in order. */
  const iterationValues = (iteration = localIteration++ * shard.count + shard.index) => {
    const values: Record<string, unknown> = { ...shared, feed: {} };
    for (const [name, rows] of Object.entries(scenario.feeds))
      (values.feed as Record<string, unknown>)[name] = rows[iteration % rows.length];
    return values;
  };

  if (options.warmConnections && setupErrors.length === 0) await transport.warm?.(options.warmConnections);

  let aborted: string | undefined;
  let runStart = Number.POSITIVE_INFINITY;
  const ticker = startTimeline({
    stages: scenario.stages,
    recent,
    now,
    startMs: () => runStart,
    // Only a spike verdict reads them; a long soak would otherwise hold three histograms for every second.
    keepSeconds: scenario.spike !== undefined,
    ...(scenario.soak ? { windows: soakSpan(scenario, scenario.soak) } : {}),
    onTick: ({ elapsedMs, stage }) => {
      aborted ??= options.abortWhen?.(allCells());
      options.onProgress?.({ elapsedMs, stage, requests, errors, recent });
    },
  });

  const memory = scenario.soak
    ? startMemorySampler({
        url: new URL(scenario.soak.metricsPath, scenario.target),
        ...(options.metricsHeaders ? { headers: options.metricsHeaders } : {}),
        everyMs: scenario.soak.scrapeMs,
        now,
        startMs: () => runStart,
      })
    : undefined;
  loop.enable();
  const startAt = options.ready ? await options.ready() : options.startAt;
  runStart = startAt !== undefined ? startAt - performance.timeOrigin - t0 : now() + 20;
  try {
    if (setupErrors.length === 0) {
      if (scenario.model === 'open') await runOpen(scenario, runStart);
      else await runClosed(scenario, runStart);
    }
  } finally {
    ticker.stop();
    await memory?.stop();
    loop.disable();
    await transport.close();
  }

  function runOpen(s: Scenario, start: number) {
    return runOpenModel({
      stages: s.stages as OpenStage[],
      shard,
      startMs: start,
      now,
      maxInflight: s.maxInflight,
      stopped: () => aborted !== undefined,
      dropped: (stage) => {
        stageReports[stage]!.dropped++;
      },
      start: (index, stage, intendedMs, issuedMs, done) => {
        stageReports[stage]!.iterations++;
        const flow = pickFlow();
        const plain = plainFlows.get(flow);
        if (plain) new PlainIteration(plain, stage, intendedMs, transport, record, now, done).start(issuedMs);
        else void runSteps(flow.steps, iterationValues(index), stage, intendedMs).finally(done);
      },
    });
  }

  function runClosed(s: Scenario, start: number) {
    return runClosedModel({
      stages: s.stages as ClosedStage[],
      shard,
      startMs: start,
      now,
      stopped: () => aborted !== undefined,
      iterate: async (stage) => {
        stageReports[stage]!.iterations++;
        const flow = pickFlow();
        const plain = plainFlows.get(flow);
        if (!plain) {
          await runSteps(flow.steps, iterationValues(), stage, now());
          return;
        }
        // A plain flow on the same callbacks as the open model: no promise or values object per step.
        const startedMs = now();
        return new Promise<void>((done) =>
          new PlainIteration(plain, stage, startedMs, transport, record, now, done).start(startedMs),
        );
      },
    });
  }

  const durationMs = now() - runStart;
  for (const [index, report] of stageReports.entries())
    report.achievedRate = report.iterations / (scenario.stages[index]!.durationMs / 1000);
  return {
    scenario: scenario.name,
    target: scenario.target,
    model: scenario.model,
    judgeThroughput: scenario.judgeThroughput,
    startedAt,
    durationMs,
    stages: stageReports,
    cells: allCells(),
    // The histogram includes the sampling timer's own interval; what is left is the delay.
    eventLoopDelayMs: {
      p50: Math.max(0, loop.percentile(50) / 1e6 - loopResolutionMs),
      p99: Math.max(0, loop.percentile(99) / 1e6 - loopResolutionMs),
      max: Math.max(0, loop.max / 1e6 - loopResolutionMs),
    },
    setupErrors,
    timeline: ticker.points,
    seconds: ticker.seconds,
    ...(scenario.soak ? { windows: ticker.windows } : {}),
    ...(memory ? { memory: { samples: memory.samples, failures: memory.failures } } : {}),
    ...(aborted ? { aborted } : {}),
  };
}

// The soak stage's span from the first stage's start, cut into the soak's windows.
function soakSpan(scenario: Scenario, soak: SoakCriteria) {
  let fromMs = 0;
  for (const stage of scenario.stages) {
    if (stage.name === soak.stage) return { fromMs, toMs: fromMs + stage.durationMs, everyMs: soak.windowMs };
    fromMs += stage.durationMs;
  }
  throw new Error(`no stage "${soak.stage}"`); // loadScenario checked it
}

function weightedPicker(flows: Flow[], random: () => number): () => Flow {
  const [only] = flows;
  if (flows.length === 1 && only) return () => only;
  const total = flows.reduce((sum, f) => sum + f.weight, 0);
  return () => {
    let r = random() * total;
    for (const flow of flows) {
      r -= flow.weight;
      if (r < 0) return flow;
    }
    return flows.at(-1)!;
  };
}
