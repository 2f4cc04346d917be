// The largest sample of a route, and which checks are latencies. Percentiles themselves never exceed the
// max: RouteStats.percentileMs caps them where they are computed, for the gate and every report alike.

import type { RouteStats } from '../stats/route-stats.ts';

/** The largest admitted latency of `stats`, in ms (0 when there are none). */
export function maxMs(stats: RouteStats): number {
  return stats.corrected.maxValue / 1000;
}

const latencyMetric = /^p\d/;

/** Whether a metric is a latency percentile (`p95`), measured in ms. */
export function isLatency(metric: string): boolean {
  return latencyMetric.test(metric);
}
