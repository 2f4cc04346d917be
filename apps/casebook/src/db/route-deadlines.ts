// Per-route bounds of database calls, from each route's latency budget in headroom.yaml: a call that has taken
// several times what the whole request may take is a stall, not a slow answer, so it is given up (503, or a
// cached copy where the route has one) long before the pool's generic bound.

import type { Spec } from '@headroom/core/slo';
import { currentRoute } from '@headroom/fastify';

/** Options of {@link routeDeadlines}. */
export interface RouteDeadlineOptions {
  /** A database call may take this many times the route's slowest budgeted percentile. @default 5 */
  factor: number;
  /** Never less than this (ms): a connection's round trip and a plan must fit. @default 250 */
  min: number;
  /** Never more than this (ms): the pool's own answer bound (`DB_QUERY_TIMEOUT_MS`). */
  max: number;
  /** Per route (`'GET /v1/cases/search'`), in ms: wins over the budget. @default none */
  overrides: Record<string, number>;
}

/**
 * The database deadline of every route the spec budgets: `factor` × its slowest percentile (p99 if given),
 * within `min` and `max`, or its override.
 *
 * @example
 * const deadlines = routeDeadlines(spec, { factor: 5, min: 250, max: 3_000, overrides: {} });
 * deadlines.get('GET /v1/cases/search'); // 750 for a 150 ms p99
 */
export function routeDeadlines(spec: Spec, options: RouteDeadlineOptions): Map<string, number> {
  const deadlines = new Map<string, number>();
  for (const objective of spec.objectives) {
    const budget = Math.max(0, ...Object.values(objective.latency));
    if (budget === 0) continue;
    const ms = Math.min(options.max, Math.max(options.min, Math.round(budget * options.factor)));
    deadlines.set(`${objective.method} ${objective.route}`, ms);
  }
  for (const [route, ms] of Object.entries(options.overrides)) {
    if (!(Number.isInteger(ms) && ms > 0)) {
      throw new TypeError(
        `routeDeadlines: override of "${route}" must be a positive integer of ms, got ${ms}`,
      );
    }
    deadlines.set(route, ms);
  }
  return deadlines;
}

/**
 * The deadline (ms) of the database calls made now: that of the route being served (the plugin's
 * `currentRoute()`, from the request's own timing, so no second AsyncLocalStorage runs per request), or
 * undefined outside a request and for routes without one (the pool's bounds apply).
 *
 * @example
 * const db = database(pool, {}, { deadline: routeDeadlineOf(routeDeadlines(spec, options)) });
 */
export function routeDeadlineOf(deadlines: ReadonlyMap<string, number>): () => number | undefined {
  return () => {
    const route = currentRoute();
    return route === undefined ? undefined : deadlines.get(route);
  };
}
