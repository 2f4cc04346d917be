// What `headroom slo` asks Prometheus about one phase of a route: of the requests in which the phase ran over the
// window, how many were within its budget. `headroom_phase_duration_seconds` has every phase budget as a bucket
// edge (@headroom/fastify puts it there), so the share is one bucket over the count, exactly. A phase is within
// its p95 budget when at least 95% of the requests that ran it were under the budget.

import { escapeLabel } from '@headroom/core/slo';
import { leOf } from '../gen/rules.ts';

/** The phase histogram @headroom/fastify exports for routes with phase budgets. */
export const phaseHistogram = 'headroom_phase_duration_seconds';

/** Share of a phase's requests that must be within its budget: the budget is a p95. */
export const phaseTarget = 0.95;

export interface PhaseQuery {
  method: string;
  /** The route template, as the metrics label it. */
  route: string;
  phase: string;
  /** The phase's p95 budget in ms. */
  budgetMs: number;
  /** Milliseconds of the recent past to read. */
  window: number;
}

/**
 * The PromQL of one phase's reading over `window`: requests that ran it and those within its budget; and
 * whether the route has phase series at all (none: the service exports no phase timings for it).
 *
 * @example
 * phaseQueries({ method: 'GET', route: '/v1/cases/:id', phase: 'db', budgetMs: 20, window: 300_000 }).within;
 * // 'sum(increase(headroom_phase_duration_seconds_bucket{method="GET",route="/v1/cases/:id",phase="db",le="0.02"}[300s]))'
 */
export function phaseQueries(
  query: PhaseQuery,
  selector = '',
): { exported: string; total: string; within: string } {
  const seconds = Math.max(1, Math.round(query.window / 1000));
  const route = `method="${escapeLabel(query.method)}",route="${escapeLabel(query.route)}"${selector ? `,${selector}` : ''}`;
  const labels = `${route},phase="${escapeLabel(query.phase)}"`;
  return {
    exported: `count(${phaseHistogram}_count{${route}})`,
    total: `sum(increase(${phaseHistogram}_count{${labels}}[${seconds}s]))`,
    within: `sum(increase(${phaseHistogram}_bucket{${labels},le="${leOf(query.budgetMs)}"}[${seconds}s]))`,
  };
}
