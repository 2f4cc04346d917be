// A baseline run's figures, looked up by route and metric, for the `vs base` column of a report.

import type { RunArtifact } from '../artifact.ts';
import { routesOf } from '../compare/compare.ts';
import { phaseOf } from '../gate/judge.ts';
import { isLatency } from './bounded.ts';

/**
 * Latency percentiles (of routes and of phases), availability and failed checks come from the baseline's
 * histograms and counts (judged stages), so a baseline saved without a spec still compares; error shares and
 * throughput depend on the spec (which statuses count, how long was judged), so they come from the baseline's
 * gate.
 *
 * @example
 * const base = baselineFigures(JSON.parse(await readFile('base.json', 'utf8')));
 * base('GET /v1/cases/:id', 'p95'); // 36.7
 */
export function baselineFigures(
  baseline: RunArtifact,
): (route: string, metric: string) => number | undefined {
  const routes = routesOf(baseline);
  return (route, metric) => {
    const stats = routes.get(route);
    if (stats && stats.count > 0) {
      if (isLatency(metric))
        return stats.admitted > 0 ? stats.percentileMs(Number(metric.slice(1))) : undefined;
      const phase = phaseOf(metric);
      if (phase !== undefined)
        return stats.phaseCount(phase) > 0 ? stats.phasePercentileMs(phase, 95) : undefined;
      if (metric === 'availability') return 1 - stats.share(['5xx']);
      if (metric === 'checks') return stats.failedCheckShare;
    }
    const check = baseline.gate?.routes
      .find((r) => r.route === route)
      ?.checks.find((c) => c.metric === metric);
    return check && !Number.isNaN(check.observed) ? check.observed : undefined;
  };
}
