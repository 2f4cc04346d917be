// autocannon's JSON result (`autocannon --json`) as the figures of one route. autocannon reports p50, p90,
// p97.5, p99 and p99.9 but no p95, so a p95 budget is "insufficient" rather than guessed.

import { type ImportedRun, SummaryFigures } from './summary.ts';

interface AutocannonResult {
  url?: string;
  duration?: number;
  latency?: Record<string, number>;
  requests?: { total?: number };
  errors?: number;
  timeouts?: number;
  '5xx'?: number;
}

/**
 * @example
 * importAutocannon(JSON.parse(text), 'GET /v1/cases/search')
 */
export function importAutocannon(result: unknown, route?: string): ImportedRun {
  const r = result as AutocannonResult;
  if (!r || typeof r !== 'object' || !r.latency || !r.requests)
    throw new Error('not an autocannon result: no latency/requests');
  const count = r.requests.total ?? 0;
  const failures = (r['5xx'] ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0);
  const name = route ?? `GET ${r.url ? new URL(r.url).pathname : '/'}`;
  const l = r.latency;
  const figures = new SummaryFigures(count, count ? failures / count : 0, {
    50: l.p50,
    90: l.p90,
    97.5: l.p97_5,
    99: l.p99,
    99.9: l.p99_9,
  });
  return { tool: 'autocannon', seconds: r.duration ?? 0, routes: new Map([[name, figures]]) };
}
