// Percentiles as printed: never above the largest sample. An HDR histogram answers a percentile with the top
// of its bucket, which can lie up to 0.1% above the largest value recorded (3 significant digits), so a
// table that printed both showed a p99 above the max.

import type { RouteStats } from '../stats/route-stats.ts';

/** The largest admitted latency of `stats`, in ms (0 when there are none). */
export function maxMs(stats: RouteStats): number {
  return stats.corrected.maxValue / 1000;
}

/**
 * `stats.percentileMs(p)`, capped at the largest sample.
 *
 * @example
 * boundedPercentileMs(cell, 99) <= maxMs(cell); // always
 */
export function boundedPercentileMs(stats: RouteStats, p: number): number {
  return Math.min(stats.percentileMs(p), maxMs(stats));
}

/**
 * Each route's largest admitted latency over the judged stages, in ms: the cap for the gate's observed
 * percentiles (the gate reads the histogram's bucket tops).
 *
 * @example
 * verdictTable(gate, { maxima: judgedMaxima(result.stages, result.cells) });
 */
export function judgedMaxima(
  stages: readonly { name: string; judge: boolean }[],
  cells: readonly RouteStats[],
): Map<string, number> {
  const judged = new Set(stages.filter((s) => s.judge).map((s) => s.name));
  const maxima = new Map<string, number>();
  for (const cell of cells) {
    if (!judged.has(cell.stage)) continue;
    maxima.set(cell.route, Math.max(maxima.get(cell.route) ?? 0, maxMs(cell)));
  }
  return maxima;
}

const latencyMetric = /^p\d/;

/** A check's observed value as printed: a latency percentile capped at the route's max when one is known. */
export function boundedObserved(
  check: { metric: string; observed: number },
  max: number | undefined,
): number {
  return max !== undefined && latencyMetric.test(check.metric) && check.observed > max ? max : check.observed;
}

/** Whether a metric is a latency percentile (`p95`), measured in ms. */
export function isLatency(metric: string): boolean {
  return latencyMetric.test(metric);
}
