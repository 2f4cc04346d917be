// `headroom compare`: repeated runs of a baseline and a candidate, route by route. Each run is one
// observation; the verdict needs both a bootstrap CI of the p95/p99 ratio and Mann-Whitney on per-run medians.

import type { RunArtifact } from '../artifact.ts';
import { mergeResults } from '../engine/parallel.ts';
import { seededRandom } from '../engine/random.ts';
import { RouteStats } from '../stats/route-stats.ts';
import { bootstrapRatio, type Interval, mannWhitney, median } from './statistics.ts';

export type ChangeVerdict = 'regression' | 'improvement' | 'no change' | 'inconclusive';

export interface MetricComparison {
  metric: 'p95' | 'p99';
  baseline: number;
  candidate: number;
  ratio: Interval;
  verdict: ChangeVerdict;
}

export interface RouteComparison {
  route: string;
  runs: { baseline: number; candidate: number };
  /** Mann-Whitney on per-run medians: is the candidate's centre shifted at all? */
  medianShiftP: number;
  metrics: MetricComparison[];
  verdict: ChangeVerdict;
  note?: string;
}

export interface CompareOptions {
  /** A change smaller than this share is "no change". @default 0.1 (10%) */
  threshold?: number;
  /** @default 0.95 */
  confidence?: number;
  /** Significance level of the Mann-Whitney test. @default 0.05 */
  alpha?: number;
  /** @default 1 */
  seed?: number;
}

/** Runs needed on each side: with fewer, no test can tell a change from noise. */
export const minimumRuns = 3;

/**
 * Each run's judged stages merged per route.
 *
 * @example
 * routesOf(artifact).get('GET /v1/cases/:id')?.percentileMs(95)
 */
export function routesOf(artifact: RunArtifact): Map<string, RouteStats> {
  const judged = new Set(artifact.result.stages.filter((s) => s.judge).map((s) => s.name));
  const routes = new Map<string, RouteStats>();
  for (const json of artifact.result.cells) {
    if (!judged.has(json.stage)) continue;
    const merged = routes.get(json.route) ?? new RouteStats('judged', json.route);
    routes.set(json.route, merged);
    merged.merge(RouteStats.fromJSON(json));
  }
  return routes;
}

/**
 * Compares two groups of runs route by route.
 *
 * @example
 * const rows = compareRuns(baselineArtifacts, candidateArtifacts, { threshold: 0.1 });
 */
export function compareRuns(
  baseline: RunArtifact[],
  candidate: RunArtifact[],
  options: CompareOptions = {},
): RouteComparison[] {
  const threshold = options.threshold ?? 0.1;
  const alpha = options.alpha ?? 0.05;
  const random = seededRandom(options.seed ?? 1);
  const base = baseline.map(routesOf);
  const cand = candidate.map(routesOf);
  const names = new Set([...base, ...cand].flatMap((m) => [...m.keys()]));
  const rows: RouteComparison[] = [];
  for (const route of [...names].sort()) {
    const b = base.map((m) => m.get(route)).filter((s): s is RouteStats => s !== undefined && s.count > 0);
    const c = cand.map((m) => m.get(route)).filter((s): s is RouteStats => s !== undefined && s.count > 0);
    const runs = { baseline: b.length, candidate: c.length };
    if (b.length < minimumRuns || c.length < minimumRuns) {
      rows.push({
        route,
        runs,
        medianShiftP: 1,
        metrics: [],
        verdict: 'inconclusive',
        note: `needs ≥ ${minimumRuns} runs on each side`,
      });
      continue;
    }
    const shift = mannWhitney(
      b.map((s) => s.percentileMs(50)),
      c.map((s) => s.percentileMs(50)),
    ).p;
    const metrics = (['p95', 'p99'] as const).map((metric): MetricComparison => {
      const p = metric === 'p95' ? 95 : 99;
      const bv = b.map((s) => s.percentileMs(p));
      const cv = c.map((s) => s.percentileMs(p));
      const ratio = bootstrapRatio(bv, cv, { random, confidence: options.confidence });
      return {
        metric,
        baseline: median(bv),
        candidate: median(cv),
        ratio,
        verdict: decide(ratio, threshold),
      };
    });
    let verdict = combine(metrics.map((m) => m.verdict));
    // A tail change without any shift of the centre is kept, but a "regression" needs the ranks to agree
    // when the CI alone is borderline (its low end within twice the threshold).
    if (verdict === 'regression' && shift > alpha && metrics.every((m) => m.ratio.low < 1 + 2 * threshold))
      verdict = 'inconclusive';
    rows.push({ route, runs, medianShiftP: shift, metrics, verdict });
  }
  return rows;
}

function decide(ratio: Interval, threshold: number): ChangeVerdict {
  if (ratio.low > 1 + threshold) return 'regression';
  if (ratio.high < 1 / (1 + threshold)) return 'improvement';
  if (ratio.low >= 1 / (1 + threshold) && ratio.high <= 1 + threshold) return 'no change';
  return 'inconclusive';
}

function combine(verdicts: ChangeVerdict[]): ChangeVerdict {
  if (verdicts.includes('regression')) return 'regression';
  if (verdicts.every((v) => v === 'no change')) return 'no change';
  if (verdicts.includes('improvement') && !verdicts.includes('inconclusive')) return 'improvement';
  if (verdicts.every((v) => v === 'improvement' || v === 'no change')) return 'improvement';
  return 'inconclusive';
}

/**
 * Merges artifacts of shards of one run (several generators at once) into one, exactly: cells of the same
 * stage and route add their histograms and counters.
 *
 * @example
 * const whole = mergeShards([shardA, shardB]);
 */
export function mergeShards(shards: RunArtifact[]): RunArtifact {
  const [first] = shards;
  if (!first) throw new Error('nothing to merge');
  if (shards.some((s) => s.scenario.hash !== first.scenario.hash))
    throw new Error('shards of different scenarios cannot be merged');
  const merged = mergeResults(shards.map((s) => s.result));
  return { ...first, result: { ...merged, cells: merged.cells.map((c) => c.toJSON()) } };
}
