// Steady open-model load for a drill, on the `headroom` CLI's engine (the repo's one load engine): stages of
// given rates, flows of GET or POST steps, and a hook at the instant the first stage starts, so a drill can time
// its faults on the run's own clock.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runParallel } from '../packages/cli/src/engine/parallel.ts';
import { type RunResult, runScenario } from '../packages/cli/src/engine/run.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import type {
  ClosedStage,
  Flow,
  OpenStage,
  Scenario,
  SpikeCriteria,
} from '../packages/cli/src/scenario/scenario.ts';

export interface LoadOptions {
  name: string;
  target: string;
  /** Open-model stages (`rate` iterations/s), or closed-model ones (`vus` users without think time). */
  stages: (
    | { name: string; seconds: number; rate: number }
    | { name: string; seconds: number; vus: number }
  )[];
  flows: Flow[];
  /** Called once, with the first stage's start on the performance clock (ms), before the first arrival. */
  onStart?: (startMs: number) => void;
  /** Keep every second's answers for the CLI's spike verdict (judgeSpike). */
  spike?: SpikeCriteria;
  /** A request without an answer by then counts as one with no answer (a hang). @default 10_000 */
  timeoutMs?: number;
  /** Sockets to the target (the cluster's nginx allows 4,096 connections, two for each proxied one). @default 64 */
  connections?: number;
}

/** What every drill run shares: one seed (runs of a drill are alike), sockets, and a hang's bound. */
const defaults = { seed: 20, connections: 64, warmConnections: 32, timeoutMs: 10_000 };

/** The engine's options for a run of `options`: its sockets, how many to open first, its routes. */
function engineOptions(options: Pick<LoadOptions, 'connections' | 'flows'>) {
  const connections = options.connections ?? defaults.connections;
  return {
    connections,
    warmConnections: Math.min(defaults.warmConnections, connections),
    routes: [...new Set(options.flows.map((f) => f.name))],
  };
}

/**
 * Stages at one steady `rate`, one for each entry of `seconds`, in its order: the shape of most drills (load
 * before the fault, during it, after it).
 *
 * @example
 * runLoad({ name, target, stages: steadyStages({ before: 3, down: 4, after: 6 }, 60), flows });
 */
export function steadyStages(
  seconds: Record<string, number>,
  rate: number,
): { name: string; seconds: number; rate: number }[] {
  return Object.entries(seconds).map(([name, s]) => ({ name, seconds: s, rate }));
}

/** One GET flow with a bearer token; `path` is a `headroom` template (`${pick(vars.ids)}`). */
export function getFlow(name: string, path: string, token: string, weight = 1): Flow {
  return { name, weight, steps: [{ method: 'GET', path, headers: { authorization: `Bearer ${token}` } }] };
}

/**
 * Casebook's everyday reads: case detail (half), search and comments, over `vars.readIds` and `vars.terms`.
 *
 * @example
 * await runLoad({ name, target, stages, flows: readMix(token) }, { readIds, terms });
 */
export function readMix(token: string): Flow[] {
  return [
    getFlow('GET /v1/cases/:id', `/v1/cases/\${pick(vars.readIds)}`, token, 50),
    getFlow('GET /v1/cases/search', `/v1/cases/search?q=\${pick(vars.terms)}&limit=20`, token, 25),
    getFlow('GET /v1/cases/:id/comments', `/v1/cases/\${pick(vars.readIds)}/comments`, token, 25),
  ];
}

/** Runs the stages and returns the engine's figures: cells by stage and route, and the per-second timeline. */
export async function runLoad(options: LoadOptions, vars: Record<string, unknown> = {}): Promise<RunResult> {
  const closed = options.stages.some((s) => 'vus' in s);
  const stages = options.stages.map((s) => ({
    name: s.name,
    durationMs: s.seconds * 1000,
    judge: true,
    ...('vus' in s ? { vus: s.vus, thinkTimeMs: 0 } : { rate: s.rate }),
  })) as OpenStage[] | ClosedStage[];
  const scenario: Scenario = {
    name: options.name,
    target: options.target,
    seed: defaults.seed,
    model: closed ? 'closed' : 'open',
    stages,
    maxInflight: 10_000,
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    vars,
    feeds: {},
    setup: [],
    flows: options.flows,
    judgeThroughput: false,
    checkFailures: 1,
    ...(options.spike ? { spike: options.spike } : {}),
  };
  return runScenario(scenario, {
    ...engineOptions(options),
    ready: async () => {
      const startMs = performance.now() + 50;
      options.onStart?.(startMs);
      return performance.timeOrigin + startMs;
    },
  });
}

/**
 * An open-model run on a load thread of its own (the engine's `runParallel` with one worker): for traffic that
 * must not share the event loop of the drill's measured load, whose timers and parsing are part of every latency
 * it measures. The thread loads the scenario from a file, so the run is written out as one (JSON is YAML).
 * `onStart` comes once the thread has loaded (its start-up takes CPU a run beside it should not share).
 *
 * @example
 * const noisy = await runLoadInThread({ name, target, stages: [{ name: 'noisy', seconds: 3, rate: 200 }], flows }, vars);
 */
export async function runLoadInThread(
  options: Pick<LoadOptions, 'name' | 'target' | 'flows' | 'connections' | 'onStart'> & {
    stages: { name: string; seconds: number; rate: number }[];
  },
  vars: Record<string, unknown> = {},
): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'chaos-load-'));
  try {
    const file = join(dir, `${options.name}.yaml`);
    await writeFile(
      file,
      JSON.stringify({
        name: options.name,
        target: options.target,
        seed: defaults.seed,
        model: 'open',
        timeout: `${defaults.timeoutMs}ms`,
        vars,
        stages: options.stages.map((s) => ({
          name: s.name,
          duration: `${s.seconds * 1000}ms`,
          rate: `${s.rate}/s`,
        })),
        flows: options.flows,
        judgeThroughput: false,
      }),
    );
    const scenario = await loadScenario(file);
    return await runParallel(scenario, file, {
      workers: 1,
      ...engineOptions(options),
      ...(options.onStart ? { onStart: options.onStart } : {}),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
