// `headroom_phase_duration_seconds{method,route,phase}`: where the time of each budgeted route goes, phase by
// phase, with every phase budget of the spec as a bucket edge (so "share of requests whose db phase was within
// 20 ms" is one bucket over the count, exactly, as the generated rules and `headroom slo` read it).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { HttpMetricsHook } from './http-metrics.ts';
import { HistogramFamily, type HistogramSeries } from './metric-series.ts';
import type { RequestTiming } from './timing.ts';

/** Phase buckets in seconds: 0.1 ms to 1 s (a phase is a part of a request). */
export const phaseBuckets: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** What the plugin needs of the spec: each objective's route and its phase budgets (ms). */
export interface PhaseSpec {
  objectives: readonly { method?: string; route?: string; phases?: Readonly<Record<string, number>> }[];
}

/** What {@link phaseMetrics} returns. */
export interface PhaseMetrics {
  /** The onResponse hook of a route with phase budgets, or undefined for a route the spec gives none. */
  route(method: string, template: string): HttpMetricsHook | undefined;
}

/**
 * Registers the phase histogram; only routes whose objective sets `phases` get a hook (and series), so the
 * metric grows with the spec, not with the app.
 *
 * @example
 * const phases = phaseMetrics(registry, spec, (request) => request[timingKey]);
 */
export function phaseMetrics(
  registry: Registry,
  spec: PhaseSpec | undefined,
  timingOf: (request: FastifyRequest) => RequestTiming | undefined,
): PhaseMetrics {
  const budgeted = new Set<string>();
  const edges = new Set(phaseBuckets);
  for (const objective of spec?.objectives ?? []) {
    if (!objective.phases || objective.method === undefined) continue;
    budgeted.add(`${objective.method} ${objective.route}`);
    for (const ms of Object.values(objective.phases)) if (ms > 0) edges.add(ms / 1000);
  }
  const family =
    budgeted.size === 0
      ? undefined
      : new HistogramFamily({
          name: 'headroom_phase_duration_seconds',
          help: 'Self time of each phase of a request (auth, ratelimit, cache, db, upstream, serialize), by route template.',
          labelNames: ['method', 'route', 'phase'] as const,
          buckets: [...edges].sort((a, b) => a - b),
          registers: [registry],
        });
  return {
    route(method, template) {
      if (family === undefined || !budgeted.has(`${method} ${template}`)) return undefined;
      const series = new Map<string, HistogramSeries>();
      const seriesOf = (phase: string) => {
        let s = series.get(phase);
        if (s === undefined) {
          s = family.labels(method, template, phase);
          series.set(phase, s);
        }
        return s;
      };
      // Only the phases that ran are observed: a cache hit runs no query, and counting it as a 0 ms query would
      // hide slow queries behind fast hits. A phase's SLI is the share of the requests that ran it.
      return function observePhases(request: FastifyRequest, _reply: FastifyReply, done: () => void) {
        const phases = request.method === method ? timingOf(request)?.phases : undefined;
        if (phases !== undefined) {
          for (const name in phases) seriesOf(name).observe(phases[name]! / 1000);
        }
        done();
      };
    },
  };
}
