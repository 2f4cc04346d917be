// autocannon's JSON result (`autocannon --json`) as the figures of one route. autocannon reports p50, p90,
// p97.5, p99 and p99.9 but no p95, so a p95 budget is "insufficient" rather than guessed. Its latencies are
// those of 2xx answers only (unless it ran with --includeErrorStats), so they judge as admitted requests;
// every status it counted (statusCodeStats) is judged by the error budget, a 429 like any other.

import { type ImportedRun, SummaryFigures } from './summary.ts';

interface AutocannonResult {
  url?: string;
  duration?: number;
  latency?: Record<string, number>;
  requests?: { total?: number };
  /** Every error, timeouts included. */
  errors?: number;
  timeouts?: number;
  /** Answers whose body did not match --expectBody. */
  mismatches?: number;
  non2xx?: number;
  '2xx'?: number;
  '5xx'?: number;
  statusCodeStats?: Record<string, { count?: number }>;
}

/**
 * @example
 * importAutocannon(JSON.parse(text), 'GET /v1/cases/search')
 */
export function importAutocannon(result: unknown, route?: string): ImportedRun {
  const r = result as AutocannonResult;
  if (!r || typeof r !== 'object' || !r.latency || !r.requests)
    throw new Error('not an autocannon result: no latency/requests');
  const codes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(r.statusCodeStats ?? {})) codes[code] = stats.count ?? 0;
  const answered = Object.values(codes).reduce((sum, n) => sum + n, 0);
  const networkErrors = r.errors ?? 0; // autocannon counts a timeout as an error too
  // Without statusCodeStats (older autocannon), the 5xx class is all it says of statuses.
  if (answered === 0 && r['5xx']) codes['500'] = r['5xx'];
  const count = Math.max(r.requests.total ?? 0, answered + networkErrors);
  const name = route ?? `GET ${r.url ? new URL(r.url).pathname : '/'}`;
  const l = r.latency;
  const figures = new SummaryFigures({
    count,
    admitted: r['2xx'] ?? count,
    codes,
    networkErrors,
    failedChecks: r.mismatches ?? 0,
    percentiles: { 50: l.p50, 90: l.p90, 97.5: l.p97_5, 99: l.p99, 99.9: l.p99_9 },
  });
  return { tool: 'autocannon', seconds: r.duration ?? 0, routes: new Map([[name, figures]]) };
}
