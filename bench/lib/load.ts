// Two ways to load a server for the benches: wrk (closed model, the peer tool for peak throughput) and a
// steady open-model rate on the `headroom` CLI's own engine, whose latencies count from each request's intended
// start (no coordinated omission).

import { execFileSync } from 'node:child_process';
import { runScenario } from '../../packages/cli/src/engine/run.ts';
import type { Scenario } from '../../packages/cli/src/scenario/scenario.ts';

/** Chromium's and Firefox's Accept-Encoding: what a browser asks a cached page in. */
export const browserEncodings = 'gzip, deflate, br, zstd';

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Runs wrk (Debian package `wrk`) and parses req/s and latency percentiles from `--latency` output. */
export function wrk(
  url: string,
  options: { connections?: number; seconds?: number; headers?: Record<string, string> } = {},
): WrkResult {
  const args = ['-t1', `-c${options.connections ?? 32}`, `-d${options.seconds ?? 10}s`, '--latency'];
  for (const [key, value] of Object.entries(options.headers ?? {})) args.push('-H', `${key}: ${value}`);
  const out = execFileSync('wrk', [...args, url], { encoding: 'utf8' });
  const ms = (label: string) => {
    const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    if (!m) throw new Error(`no ${label}% in wrk output:\n${out}`);
    const value = Number(m[1]);
    return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50Ms: ms('50'), p99Ms: ms('99'), errors };
}

export interface RateResult {
  sent: number;
  /** Answers of 400 or more, and requests with no answer, warm-up included. */
  errors: number;
  achievedRps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Each counted second's own p99, in order: a second when the machine stalled stands out from the rest. */
  secondP99Ms: number[];
  /** The generator's own event-loop delay at its worst: a stall of its own delays sends and answers alike. */
  generatorDelayMaxMs: number;
}

/**
 * Sends `rate` requests per second for `seconds` to one GET path (a `headroom` template: `${pick(vars.ids)}`,
 * `${int(1, 500)}`), on the CLI's open-model engine: each request starts at its intended time whether or not
 * earlier ones have answered, and its latency counts from then. Percentiles are of the admitted answers (the
 * engine keeps 429/503 refusals apart) after a warm-up at the same rate: the first seconds of a run, while the
 * engine opens its connections, had a p99 three to four times the rest's against any server here (casebook,
 * bare Fastify + the plugin), which decided a 10 s run's p99.
 *
 * @example
 * const r = await steadyRate(origin, '/v1/cases/${pick(vars.ids)}', { rate: 200, seconds: 15, vars: { ids } });
 */
export async function steadyRate(
  origin: string,
  path: string,
  options: {
    rate: number;
    seconds: number;
    headers?: Record<string, string>;
    vars?: Record<string, unknown>;
    connections?: number;
    /** Seconds at the same rate before, not counted: connections opened, code warm. @default 2 */
    warmupSeconds?: number;
  },
): Promise<RateResult> {
  const warmup = options.warmupSeconds ?? 2;
  const scenario: Scenario = {
    name: 'steady',
    target: origin,
    seed: 1,
    model: 'open',
    stages: [
      ...(warmup > 0
        ? [{ name: 'warm-up', durationMs: warmup * 1000, judge: false, rate: options.rate }]
        : []),
      { name: 'steady', durationMs: options.seconds * 1000, judge: true, rate: options.rate },
    ],
    maxInflight: 10_000,
    timeoutMs: 10_000,
    vars: options.vars ?? {},
    feeds: {},
    setup: [],
    flows: [{ name: 'get', weight: 1, steps: [{ method: 'GET', path, headers: options.headers ?? {} }] }],
    judgeThroughput: false,
    checkFailures: 1,
  };
  const result = await runScenario(scenario, { connections: options.connections ?? 64 });
  // Errors count from the warm-up on; latency only from the counted stage.
  let errors = 0;
  for (const cell of result.cells) {
    errors += cell.networkErrors;
    for (const [code, n] of Object.entries(cell.codes)) if (Number(code) >= 400) errors += n;
  }
  const cells = result.cells.filter((cell) => cell.stage === 'steady');
  const merged = cells[0]!;
  for (const cell of cells.slice(1)) merged.merge(cell);
  const stage = result.stages.find((s) => s.name === 'steady')!;
  return {
    sent: stage.iterations,
    errors,
    achievedRps: stage.achievedRate,
    p50Ms: merged.percentileMs(50),
    p95Ms: merged.percentileMs(95),
    p99Ms: merged.percentileMs(99),
    // A point's `t` is the end of its second.
    secondP99Ms: result.timeline.filter((point) => point.t > warmup).map((point) => point.p99),
    generatorDelayMaxMs: result.eventLoopDelayMs.max,
  };
}
