// Prometheus metrics of one plugin instance: its own registry, RED metrics per route template, build info.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { CounterFamily, type CounterSeries, HistogramFamily, type HistogramSeries } from './metric-series.ts';

/** The `route` label of requests that matched no route, so random paths cannot grow the label set. */
export const unmatchedRoute = '__unmatched__';

/** Latency buckets in seconds for an API: 1 ms to 10 s. */
export const httpDurationBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** What {@link createMetricsRegistry} needs to know about the service. */
export interface MetricsRegistryOptions {
  service: string;
  version: string;
  commit: string;
  /** Also collect prom-client's process and runtime metrics into the registry. */
  defaultMetrics: boolean;
}

/**
 * A fresh registry (never prom-client's global one, so two apps in one process never clash) holding
 * `headroom_build_info{service,version,commit} 1` and, if asked, the default process metrics.
 *
 * @example
 * const registry = createMetricsRegistry({ service: 'casebook', version: '1.0.0', commit: 'abc', defaultMetrics: false });
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  const buildInfo = new Gauge({
    name: 'headroom_build_info',
    help: 'Always 1; its labels say which build is running (a release marker).',
    labelNames: ['service', 'version', 'commit'] as const,
    registers: [registry],
  });
  buildInfo.set({ service: options.service, version: options.version, commit: options.commit }, 1);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/** The `onResponse` hook returned by {@link httpMetrics}. */
export type HttpMetricsHook = (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;

/**
 * Registers `http_request_duration_seconds` and `http_requests_total` ({method, route, code}) in
 * `registry` and returns the `onResponse` hook that feeds them. `route` is the route template
 * (`/v1/cases/:id`), never the raw URL.
 *
 * @example
 * app.addHook('onResponse', httpMetrics(registry));
 */
export function httpMetrics(registry: Registry): HttpMetricsHook {
  const labelNames = ['method', 'route', 'code'] as const;
  const duration = new HistogramFamily({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by route template.',
    labelNames,
    buckets: httpDurationBuckets,
    registers: [registry],
  });
  const total = new CounterFamily({
    name: 'http_requests_total',
    help: 'Responses sent, by route template and status code.',
    labelNames,
    registers: [registry],
  });
  // The series of a (method, route, code), looked up once. The set is bounded: routes are templates (or
  // `__unmatched__`), methods and codes are few.
  const series = new Map<string, { duration: HistogramSeries; total: CounterSeries }>();
  // Callback style: an async hook would allocate a promise per request for nothing.
  return function observeHttpRequest(request, reply, done) {
    const method = request.method;
    const route = request.routeOptions.url ?? unmatchedRoute;
    const code = reply.statusCode;
    const id = `${method} ${code} ${route}`;
    let s = series.get(id);
    if (s === undefined) {
      s = { duration: duration.labels(method, route, code), total: total.labels(method, route, code) };
      series.set(id, s);
    }
    s.duration.observe(reply.elapsedTime / 1000);
    s.total.inc();
    done();
  };
}
