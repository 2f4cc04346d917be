// k6 summaries — `k6 run --summary-export=summary.json` and the data handed to `handleSummary` — as figures
// per route. Per-route figures come from sub-metrics tagged by `name` (or `route`) such as
// `http_req_duration{name:GET /v1/cases/:id}`; the untagged metric becomes the route `ALL`.

import { type ImportedRun, SummaryFigures } from './summary.ts';

type Values = Record<string, number>;

/** `--summary-export` puts values on the metric; handleSummary data nests them under `values`. */
function valuesOf(metric: unknown): Values | undefined {
  if (!metric || typeof metric !== 'object') return undefined;
  const m = metric as { values?: Values };
  return m.values && typeof m.values === 'object' ? m.values : (metric as Values);
}

const percentileKeys: Record<string, number> = {
  med: 50,
  'p(50)': 50,
  'p(90)': 90,
  'p(95)': 95,
  'p(99)': 99,
  'p(99.9)': 99.9,
};

/**
 * @example
 * const run = importK6(JSON.parse(await readFile('summary.json', 'utf8')));
 */
export function importK6(summary: unknown): ImportedRun {
  const metrics = (summary as { metrics?: Record<string, unknown> })?.metrics;
  if (!metrics || typeof metrics !== 'object') throw new Error('not a k6 summary: no "metrics" object');
  const durationMs = (summary as { state?: { testRunDurationMs?: number } }).state?.testRunDurationMs;
  const overallReqs = valuesOf(metrics.http_reqs);
  const seconds = durationMs
    ? durationMs / 1000
    : overallReqs?.count && overallReqs.rate
      ? overallReqs.count / overallReqs.rate
      : 0;

  const routes = new Map<string, SummaryFigures>();
  for (const [key, metric] of Object.entries(metrics)) {
    const match = /^http_req_duration(?:\{(?:name|route):(.+)\})?$/.exec(key);
    if (!match) continue;
    const route = match[1]?.trim() ?? 'ALL';
    const tag = match[1] ? `{${key.slice(key.indexOf('{') + 1, -1)}}` : '';
    const duration = valuesOf(metric) ?? {};
    const reqs = valuesOf(metrics[`http_reqs${tag}`]) ?? (tag ? undefined : overallReqs);
    const failed = valuesOf(metrics[`http_req_failed${tag}`]);
    const count = reqs?.count ?? (failed ? (failed.passes ?? 0) + (failed.fails ?? 0) : 0);
    // http_req_failed is a Rate whose "passes" are the failed requests (k6's naming): by k6's default
    // expectedStatuses, every status >= 400 and every request with no answer, a 429 included.
    const failedShare = failed?.rate ?? failed?.value ?? 0;
    // `checks` is a Rate whose "fails" are failed checks; untagged, it belongs to the whole run.
    const checks = valuesOf(metrics[`checks${tag}`]);
    const failedChecks = checks
      ? (checks.fails ?? 0) * (count / Math.max(1, (checks.passes ?? 0) + (checks.fails ?? 0)))
      : 0;
    const percentiles: Record<number, number> = {};
    for (const [name, p] of Object.entries(percentileKeys)) {
      if (typeof duration[name] === 'number') percentiles[p] = duration[name];
    }
    routes.set(route, new SummaryFigures({ count, failedShare, failedChecks, percentiles }));
  }
  if (routes.size === 0) throw new Error('not a k6 summary: no http_req_duration metric');
  return { tool: 'k6', seconds, routes };
}
