// Prometheus metrics of one plugin instance: its own registry, RED metrics per route template, build info.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Gauge, type OpenMetricsContentType, Registry } from 'prom-client';
import { CounterFamily, type CounterSeries, HistogramFamily, type HistogramSeries } from './metric-series.ts';

/** The `route` label of requests that matched no route, so random paths cannot grow the label set. */
export const unmatchedRoute = '__unmatched__';

/** Latency buckets in seconds for an API: 1 ms to 10 s. */
export const httpDurationBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * `base` with every latency budget of `spec` as an edge too (in seconds), sorted: then the share of a route's
 * requests within its budget is one bucket over the count, exactly (`le="0.06"` for a 60 ms p95), which is what
 * an SLI and `headroom gen`'s rules read. A budget becomes `budget / 1000` and prints as Prometheus prints it.
 *
 * @example
 * durationBuckets(spec); // [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.04, 0.05, 0.06, …]
 */
export function durationBuckets(
  spec: { objectives: readonly { latency: Readonly<Record<string, number>> }[] } | undefined,
  base: readonly number[] = httpDurationBuckets,
): number[] {
  const edges = new Set(base);
  for (const objective of spec?.objectives ?? []) {
    for (const ms of Object.values(objective.latency)) if (ms > 0) edges.add(ms / 1000);
  }
  return [...edges].sort((a, b) => a - b);
}

/** What {@link createMetricsRegistry} needs to know about the service. */
export interface MetricsRegistryOptions {
  service: string;
  version: string;
  commit: string;
  /** Also collect prom-client's process and runtime metrics into the registry. */
  defaultMetrics: boolean;
  /** When this instance started (ms since the epoch): `headroom_start_time_seconds`. @default not exported */
  startedAt?: number;
}

/**
 * A fresh registry (never prom-client's global one, so two apps in one process never clash) holding
 * `headroom_build_info{service,version,commit} 1`, `headroom_start_time_seconds{service,version,commit}` when
 * `startedAt` is given, and, if asked, the default process metrics.
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
  const build = { service: options.service, version: options.version, commit: options.commit };
  buildInfo.set(build, 1);
  if (options.startedAt !== undefined) {
    // The release marker with its time: a dashboard annotates each instance's start at this value, labelled with
    // the build it runs (prom-client's process_start_time_seconds has no build labels, and no clock but the OS's).
    new Gauge({
      name: 'headroom_start_time_seconds',
      help: 'When this instance started, in seconds since the epoch, with the build it runs (a deploy marker).',
      labelNames: ['service', 'version', 'commit'] as const,
      registers: [registry],
    }).set(build, options.startedAt / 1000);
  }
  if (options.defaultMetrics) {
    collectDefaultMetrics({ register: registry });
    // Three of prom-client's defaults are gauges named like counters (`_total`), which `promtool check
    // metrics` reports; the same figures stay in the labelled gauges without the suffix
    // (`nodejs_active_handles{type}`, …), whose sum they are.
    for (const name of misnamedDefaults) registry.removeSingleMetric(name);
  }
  return registry;
}

const misnamedDefaults = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** True when a scrape's Accept header asks for OpenMetrics (Prometheus does, first, by default). */
export const wantsOpenMetrics = (accept: string | undefined): boolean =>
  accept?.includes('application/openmetrics-text') === true;

/**
 * `registry` in the OpenMetrics text format, which is the one that carries exemplars. prom-client renders a
 * registry in one format, fixed at its creation, and its OpenMetrics rendering renames counters in place (drops
 * `_total`); so each OpenMetrics scrape renders views of the same metrics in a registry of its own, and the
 * registry that serves the Prometheus format is left as it is.
 */
export function openMetricsText(registry: Registry): Promise<string> {
  const view = new Registry<OpenMetricsContentType>();
  view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray() as unknown as MetricView[]) {
    // The view's name is the one OpenMetrics prints (a counter's without `_total`, set by prom-client).
    const named: MetricView = {
      name: metric.name,
      help: metric.help,
      type: metric.type,
      aggregator: metric.aggregator,
      // A histogram's print form (its labels formatted once per series) when it has one, as the registry prefers.
      get: async () => ({
        ...((await (metric.getForPromString ?? metric.get).call(metric)) as object),
        name: named.name,
      }),
    };
    view.registerMetric(named as never);
  }
  return view.metrics();
}

interface MetricView {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  get(): unknown;
  getForPromString?(): unknown;
}

/** An `onResponse` hook, callback style (an async hook would allocate a promise per request for nothing). */
export type HttpMetricsHook = (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;

/**
 * Who else watches answers per route (the SLO degrader): `observer(method, template)` is asked once per route and
 * method, and again whenever `version` changes; undefined means nobody watches that route.
 */
export interface RouteWatch {
  version: number;
  observer(method: string, template: string): ((ms: number, status: number) => void) | undefined;
}

/**
 * Where the latency histogram finds the trace of a sampled request (its exemplar): `of(request)` gives its ids
 * (undefined when it was not sampled), `now()` the time in ms.
 */
export interface TracedRequests {
  of(request: FastifyRequest): { traceId?: string | undefined; spanId?: string | undefined } | undefined;
  now(): number;
}

/** What {@link httpMetrics} returns: hooks that feed the RED metrics. */
export interface HttpMetrics {
  /** The onResponse hook of one route, given its template when the route is added. */
  route(template: string): HttpMetricsHook;
  /** Counts an answer no route gave (a 404) under `__unmatched__`; call it when the answer is sent. */
  unmatched(request: FastifyRequest, reply: FastifyReply): void;
}

/**
 * Registers `http_request_duration_seconds` and `http_requests_total` ({method, route, code}) in
 * `registry`. `route` is the route template (`/v1/cases/:id`), never the raw URL: each route gets its own
 * hook with its template, so a response builds no label string and reads no `request.routeOptions` (a getter
 * that makes a 12-field object on every access).
 *
 * @example
 * const metrics = httpMetrics(registry);
 * app.addHook('onRoute', (route) => { route.onResponse = [metrics.route(route.url), ...[route.onResponse ?? []].flat()]; });
 */
export function httpMetrics(
  registry: Registry,
  watch?: RouteWatch,
  buckets: readonly number[] = httpDurationBuckets,
  traced?: TracedRequests,
): HttpMetrics {
  const labelNames = ['method', 'route', 'code'] as const;
  const duration = new HistogramFamily({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by route template.',
    labelNames,
    buckets: [...buckets],
    registers: [registry],
  });
  const total = new CounterFamily({
    name: 'http_requests_total',
    help: 'Responses sent, by route template and status code.',
    labelNames,
    registers: [registry],
  });
  // A route's series by method, then status code: both few, so the maps stay small.
  const observer = (template: string) => {
    const byMethod = new Map<string, Map<number, { duration: HistogramSeries; total: CounterSeries }>>();
    const watchers = new Map<
      string,
      { version: number; observe: ((ms: number, status: number) => void) | undefined }
    >();
    return (request: FastifyRequest, reply: FastifyReply): void => {
      const method = request.method;
      const code = reply.statusCode;
      let byCode = byMethod.get(method);
      if (byCode === undefined) {
        byCode = new Map();
        byMethod.set(method, byCode);
      }
      let s = byCode.get(code);
      if (s === undefined) {
        s = {
          duration: duration.labels(method, template, code),
          total: total.labels(method, template, code),
        };
        byCode.set(code, s);
      }
      const trace = traced?.of(request);
      if (trace?.traceId === undefined) s.duration.observe(reply.elapsedTime / 1000);
      else
        s.duration.observeTraced(
          reply.elapsedTime / 1000,
          trace.traceId,
          trace.spanId ?? '',
          traced!.now() / 1000,
        );
      s.total.inc();
      if (watch !== undefined) {
        let watcher = watchers.get(method);
        if (watcher === undefined || watcher.version !== watch.version) {
          watcher = { version: watch.version, observe: watch.observer(method, template) };
          watchers.set(method, watcher);
        }
        watcher.observe?.(reply.elapsedTime, code);
      }
    };
  };
  return {
    route(template) {
      const observe = observer(template);
      return function observeHttpRequest(request, reply, done) {
        observe(request, reply);
        done();
      };
    },
    unmatched: observer(unmatchedRoute),
  };
}
