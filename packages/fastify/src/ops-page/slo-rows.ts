// The SLO view's rows and the top offenders: each objective's route measured against its budgets, and every
// route ranked, all from the answers counted since the process started.

import { matchesStatus, quantileOf as quantile, type StatusPattern } from '@headroom/core/slo';
import { type BurnHistory, burnWindows } from './burn-history.ts';
import { histogramQuantile, type PhaseSeries, type RouteSeries, shareWithin } from './route-series.ts';

/** What the page needs of an objective of the spec (`loadSpec(...).objectives[i]` is one). */
export interface OpsObjective {
  name?: string;
  method?: string;
  route?: string;
  /** Budget in ms by percentile (`p95: 120`). */
  latency: Readonly<Record<string, number | undefined>>;
  /** The largest share of failed answers, and which statuses fail. @default statuses ['5xx'] */
  errors?: { value: number; statuses?: readonly StatusPattern[] };
  /** The smallest share of answers without a 5xx. */
  availability?: { value: number };
  /** p95 budget (ms) of each phase (`auth`, `db`, …). */
  phases?: Readonly<Record<string, number>>;
}

/** What the rows are read from, at one moment. */
export interface SloReadings {
  routes: readonly RouteSeries[];
  /** The phases of routes with phase budgets. @default none */
  phases?: readonly PhaseSeries[];
  /** Samples of earlier moments, for the burn rate over recent windows. @default none: only since start */
  history?: BurnHistory;
  /** When the readings were taken (ms since the epoch). */
  at: number;
}

/**
 * Each objective's answers and failed answers (by its own error statuses) so far: what {@link BurnHistory}
 * samples.
 *
 * @example
 * history.record(clock.now(), sloCounts(spec.objectives, await readRouteSeries(registry)));
 */
export function sloCounts(objectives: readonly OpsObjective[], routes: readonly RouteSeries[]) {
  return objectives.map((objective, index) => {
    const series = routes.find((r) => r.method === objective.method && r.route === objective.route);
    const statuses = objective.errors?.statuses ?? ['5xx'];
    return {
      name: nameOf(objective, index),
      requests: series?.requests ?? 0,
      failed: countWhere(series, (status) => statuses.some((p) => matchesStatus(p, status))),
    };
  });
}

const nameOf = (objective: OpsObjective, index: number) => objective.name ?? `objective ${index + 1}`;

/** The percentiles every row shows, budgeted or not; a budget on another one (p90, p99.9) adds it. */
const shown = ['p50', 'p95', 'p99'];

/**
 * One row per objective. A latency budget is breached when fewer answers than its percentile are within it
 * (exact: every budget is an edge of the histogram); the observed percentile is Prometheus's estimate.
 *
 * @example
 * sloRows(spec.objectives, { routes: await readRouteSeries(registry), at: clock.now() });
 */
export function sloRows(objectives: readonly OpsObjective[], readings: SloReadings) {
  const { routes, phases = [], history, at } = readings;
  const counts = sloCounts(objectives, routes);
  return objectives.map((objective, index) => {
    const series = routes.find((r) => r.method === objective.method && r.route === objective.route);
    const { name, requests, failed } = counts[index]!;
    const buckets = series?.buckets ?? [];
    const down = countWhere(series, (status) => status >= 500);
    const errorRatio = requests === 0 ? null : failed / requests;
    const availability = requests === 0 ? null : 1 - down / requests;
    const budgeted = Object.keys(objective.latency).filter((p) => objective.latency[p] !== undefined);
    const percentiles = [...new Set([...shown, ...budgeted])].sort((a, b) => quantile(a) - quantile(b));
    const errorBudget = objective.errors?.value;
    const burnRate = errorRatio === null || !errorBudget ? null : errorRatio / errorBudget;
    return {
      name,
      method: objective.method ?? null,
      route: objective.route ?? null,
      requests,
      latency: percentiles.map((percentile) => {
        const budgetMs = objective.latency[percentile] ?? null;
        const observed = histogramQuantile(buckets, quantile(percentile));
        const within = budgetMs === null ? null : shareWithin(buckets, budgetMs / 1000);
        const breached =
          budgetMs === null || requests === 0
            ? false
            : within === null
              ? observed !== null && observed * 1000 > budgetMs
              : within < quantile(percentile);
        return {
          percentile,
          observed_ms: observed === null ? null : observed * 1000,
          budget_ms: budgetMs,
          within_budget: within,
          breached,
        };
      }),
      errors: failed,
      error_ratio: errorRatio,
      error_budget: errorBudget ?? null,
      // Since the process started: the share of the error budget this process has used, and how fast.
      burn_rate: burnRate,
      budget_remaining: burnRate === null ? null : 1 - burnRate,
      errors_breached: burnRate !== null && burnRate > 1,
      // Over the last 5 minutes and the last hour, from the page's samples.
      burn:
        history?.burn(name, { at, requests, failed }, errorBudget) ??
        burnWindows.map((window) => ({
          window_s: window / 1000,
          covered_s: 0,
          requests: 0,
          failed: 0,
          burn_rate: null,
        })),
      availability,
      availability_target: objective.availability?.value ?? null,
      availability_breached:
        availability !== null &&
        objective.availability !== undefined &&
        availability < objective.availability.value,
      phases: phaseRows(objective, phases),
      // The histogram itself (edges in seconds, +Inf last, cumulative counts), for the page's live p95 chart.
      histogram: {
        edges: buckets.filter(([edge]) => edge !== Number.POSITIVE_INFINITY).map(([edge]) => edge),
        counts: buckets.map(([, count]) => count),
      },
    };
  });
}

// Every phase the objective's route ran, budgeted ones first (in the spec's order), then the others by name.
function phaseRows(objective: OpsObjective, phases: readonly PhaseSeries[]) {
  const budgets = objective.phases ?? {};
  const order = Object.keys(budgets);
  const rank = (phase: string) => (order.includes(phase) ? order.indexOf(phase) : order.length);
  return phases
    .filter((p) => p.method === objective.method && p.route === objective.route)
    .sort((a, b) => rank(a.phase) - rank(b.phase) || a.phase.localeCompare(b.phase))
    .map((p) => {
      const budgetMs = budgets[p.phase] ?? null;
      const observed = histogramQuantile(p.buckets, 0.95);
      const within = budgetMs === null ? null : shareWithin(p.buckets, budgetMs / 1000);
      return {
        phase: p.phase,
        requests: p.requests,
        p95_ms: observed === null ? null : observed * 1000,
        budget_ms: budgetMs,
        within_budget: within,
        breached: within !== null && p.requests > 0 && within < 0.95,
      };
    });
}

/** Routes listed by each ranking of the top offenders. */
const topN = 10;

/**
 * Routes ranked by p95 × volume (where the time goes) and by 5xx answers (errors × volume); routes under
 * `exclude` (the page's own) are left out.
 *
 * @example
 * offenders(await readRouteSeries(registry), '/_headroom');
 */
export function offenders(routes: readonly RouteSeries[], exclude: string) {
  const ranked = routes
    .filter((r) => r.route !== exclude && !r.route.startsWith(`${exclude}/`) && r.requests > 0)
    .map((r) => {
      const p95 = histogramQuantile(r.buckets, 0.95) ?? 0;
      const errors = countWhere(r, (status) => status >= 500);
      return {
        method: r.method,
        route: r.route,
        requests: r.requests,
        p95_ms: p95 * 1000,
        // Seconds: roughly the time the route's slow tail costs.
        p95_x_requests_s: p95 * r.requests,
        errors,
        error_ratio: errors / r.requests,
        slow_trace_id: r.slowTrace ?? null,
      };
    });
  return {
    by_latency: [...ranked].sort((a, b) => b.p95_x_requests_s - a.p95_x_requests_s).slice(0, topN),
    by_errors: ranked
      .filter((r) => r.errors > 0)
      .sort((a, b) => b.errors - a.errors)
      .slice(0, topN),
  };
}

function countWhere(series: RouteSeries | undefined, test: (status: number) => boolean): number {
  let count = 0;
  for (const [status, n] of series?.codes ?? []) if (test(status)) count += n;
  return count;
}
