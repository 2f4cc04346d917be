// Run artifacts built in memory for the report tests: a warm-up stage with a latency spike, then a judged
// steady stage; one route with plenty of samples, one with too few for its p95, and optionally one that
// breaches its budget. Deterministic (seeded), judged by the real gate.

import { parseSpec } from '@headroom/core/slo';
import type { RunArtifact } from '../../src/artifact.ts';
import type { RunResult, TimelinePoint } from '../../src/engine/run.ts';
import { judge } from '../../src/gate/judge.ts';
import { RouteStats } from '../../src/stats/route-stats.ts';

const specText = (failing: boolean) => `service: t
objectives:
  - { name: fast, route: GET /fast, latency: { p50: 10ms, p95: 40ms, p99: 60ms }, errors: 1%, availability: 99% }
  - { name: rare, route: GET /rare, latency: { p50: 20ms, p95: 40ms, p99: 60ms } }
${failing ? '  - { name: slow, route: GET /slow, latency: { p95: 5ms } }\n' : ''}`;

/** A seeded uniform random in [0, 1) (a linear congruential generator: the figures are what matter). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

export interface ReportArtifactOptions {
  /** Add `GET /slow`, whose p95 breaches its 5 ms budget. */
  failing?: boolean;
  /** Another seed: another run of the same load. @default 7 */
  seed?: number;
  /** Multiplies steady-state latencies (1.1: a 10% slower run). @default 1 */
  scale?: number;
}

/**
 *
 * @example
 * const { artifact } = reportArtifact({ failing: true });
 */
export function reportArtifact(options: ReportArtifactOptions = {}): {
  artifact: RunArtifact;
  result: RunResult;
} {
  const random = seeded(options.seed ?? 7);
  const scale = options.scale ?? 1;
  const spec = parseSpec(specText(options.failing === true));
  const cells: RouteStats[] = [];
  const fill = (
    stage: string,
    route: string,
    n: number,
    lowMs: number,
    highMs: number,
    codes: number[] = [],
  ) => {
    const cell = new RouteStats(stage, route);
    for (let i = 0; i < n; i++) {
      const latency = (lowMs + random() * (highMs - lowMs)) * (stage === 'warm-up' ? 1 : scale);
      const intendedMs = (stage === 'warm-up' ? 0 : 5000) + random() * (stage === 'warm-up' ? 5000 : 20_000);
      cell.record({ intendedMs, sentMs: intendedMs, doneMs: intendedMs + latency, status: codes[i] ?? 200 });
    }
    cells.push(cell);
  };
  fill('warm-up', 'GET /fast', 400, 20, 250);
  // 1% 429s, a few 404s, 503s and 500s: every status class of the throughput chart has some.
  const codes = Array.from({ length: 3000 }, (_, i) =>
    i % 100 === 0 ? 429 : i % 500 === 1 ? 404 : i % 1000 === 2 ? 503 : i % 1500 === 3 ? 500 : 200,
  );
  fill('steady', 'GET /fast', 3000, 2, 9, codes);
  fill('steady', 'GET /rare', 30, 5, 28);
  if (options.failing) fill('steady', 'GET /slow', 400, 10, 30);
  const timeline: TimelinePoint[] = Array.from({ length: 25 }, (_, i) => {
    const t = i + 1;
    const warm = t <= 5;
    const scale = warm ? 250 / t : 8 + random() * 2;
    return {
      t,
      requests: warm ? 80 : 150 + Math.round(random() * 10),
      errors: warm ? 0 : Math.round(random() * 1.2),
      p50: scale * 0.4,
      p95: scale * 0.8,
      p99: scale,
    };
  });
  const stage = (name: string, judge: boolean, durationMs: number, rate: number) => ({
    name,
    judge,
    durationMs,
    targetRate: rate,
    achievedRate: rate,
    iterations: (rate * durationMs) / 1000,
    dropped: 0,
    lateStarts: 0,
  });
  const result: RunResult = {
    scenario: 'report-fixture',
    target: 'http://127.0.0.1:1',
    model: 'open',
    judgeThroughput: false,
    startedAt: '2026-12-04T12:00:00.000Z',
    durationMs: 25_000,
    stages: [stage('warm-up', false, 5000, 80), stage('steady', true, 20_000, 150)],
    cells,
    eventLoopDelayMs: { p50: 0.1, p99: 0.8, max: 2 },
    setupErrors: [],
    timeline,
    seconds: [],
  };
  const gate = judge(result, spec);
  const artifact: RunArtifact = {
    format: 'headroom-run/1',
    scenario: { name: result.scenario, hash: 'fixture' },
    commit: '0123456789abcdef',
    machine: { hostname: 'test', cpus: 2, cpuModel: 'test cpu', memoryGiB: 4, node: 'v24' },
    result: { ...result, cells: cells.map((c) => c.toJSON()) },
    gate,
  };
  return { artifact, result };
}
