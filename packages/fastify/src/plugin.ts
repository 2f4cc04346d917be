// The `headroom` Fastify plugin: wires problem+json errors, metrics, health and request-id echo into an app.

import { type Clock, orAfter, systemClock } from '@headroom/core/clock';
import { deprecatedOption, invalidOption } from '@headroom/core/errors';
import type { Idempotency } from '@headroom/core/idempotency';
import type { StatusPattern } from '@headroom/core/slo';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Registry } from 'prom-client';
import { type AdminOptions, adminRoutes } from './admin.ts';
import { arrivedAt } from './arrival.ts';
import { type CacheRegistry, createCacheRegistry } from './cache-metrics.ts';
import { type ConfigRegistry, createConfigRegistry } from './config-registry.ts';
import { answerUnmetExpectations, drainConnections } from './connections.ts';
import { breakerControls } from './controls/breakers.ts';
import { createDegraderRegistry, type DegraderRegistry } from './degrader-registry.ts';
import { burstErrorHandler, routeNotFoundHandler } from './error-handler.ts';
import { createFlagRegistry, type FlagRegistry } from './flag-registry.ts';
import { type HealthCheck, healthRoutes, type Readiness } from './health.ts';
import { type HttpCacheOptions, httpCacheHook } from './http-cache.ts';
import {
  createMetricsRegistry,
  durationBuckets,
  httpDurationBuckets,
  httpMetrics,
  openMetricsText,
  type RouteWatch,
  wantsOpenMetrics,
} from './http-metrics.ts';
import { idempotentRoute, type RouteIdempotency, recordIdempotentAnswer } from './idempotency-hook.ts';
import { createJobRegistry, type JobRegistry } from './job-registry.ts';
import { defaultMaxSeries, guardSeries } from './metric-series.ts';
import { type OpsPageOptions, opsPage } from './ops-page/ops-page.ts';
import { type OverloadOptions, overloadGate } from './overload.ts';
import { phaseMetrics } from './phase-metrics.ts';
import { codeProblem, sendProblem } from './problem.ts';
import { createProtection, type Protection } from './protection.ts';
import type { RouteRateLimit } from './rate-limit-hook.ts';
import { RateLimitTenants } from './rate-limit-tenants.ts';
import { requestIdHeader } from './request-id.ts';
import { routeMethods } from './route-methods.ts';
import { protectRoute, type RouteConcurrency } from './route-protection.ts';
import { type RumMetricName, type RumOptions, rumRoutes } from './rum.ts';
import { installShutdown, type Lifecycle, type Shutdown, type ShutdownOptions } from './shutdown.ts';
import { type SystemCheckOptions, systemChecks } from './system-checks.ts';
import { type CostOptions, tenantCosts } from './tenant-costs.ts';
import { RequestTiming, runTimed, timingOf, traceAttributes } from './timing.ts';
import { createWebhookRegistry, type WebhookRegistry } from './webhook-registry.ts';

/** Options of the {@link headroom} plugin. */
export interface HeadroomOptions {
  /** Service name, in `/health` and the `headroom_build_info` metric. */
  service: string;
  /** Release version, in `/health` and `headroom_build_info`. */
  version: string;
  /** Source commit, in `headroom_build_info`. @default 'unknown' */
  commit?: string;
  /** Checks the dependencies for `/health/ready` and `/health`. @default always ready */
  readiness?: Readiness;
  /** A readiness check slower than this (ms) counts as not ready. @default 2000 */
  readinessTimeout?: number;
  /** @deprecated renamed `readinessTimeout` (same unit); this name goes in the next release. */
  readinessTimeoutMs?: number;
  /** Collect prom-client's process metrics into this instance's registry. @default true */
  defaultMetrics?: boolean;
  /**
   * The service's objectives (`loadSpec('headroom.yaml')`): each latency budget becomes an edge of
   * `http_request_duration_seconds`, so the share of requests within budget is exact. @default no budgets
   */
  spec?: {
    objectives: readonly {
      latency: Readonly<Record<string, number>>;
      method?: string;
      route?: string;
      phases?: Readonly<Record<string, number>>;
      /** Names the feature of the route's costs (showback, `headroom_tenant_*`) unless `config.feature` does. */
      journey?: string;
      /** The operations page's names, error budgets and availability targets (`loadSpec` gives them). */
      name?: string;
      errors?: { value: number; statuses?: readonly StatusPattern[] };
      availability?: { value: number };
    }[];
    /**
     * `tenantTop`: tenants with their own `tenant` label (the rest `other`; 0: always `all`); `maxSeries`: label
     * sets each metric family may hold (past it: one `__overflow__` series, counted in
     * `headroom_metric_series_dropped_total`). @default { tenantTop: 0, maxSeries: 10000 }
     */
    telemetry?: { tenantTop: number; maxSeries: number };
    /** Real-user budgets: each becomes a bucket edge of the `rum` histograms. */
    rum?: readonly { budgets: Partial<Record<RumMetricName, number>> }[];
  };
  /**
   * Send a `Server-Timing` header (each phase's ms, then `total`) to these requests: `true` for all, or a test
   * such as "the caller is an operator". It tells a caller where the time goes, so keep it from the public.
   * @default false
   */
  serverTiming?: boolean | ((request: FastifyRequest) => boolean);
  /**
   * The tenant of an authenticated request (from its principal, never from a header alone), read as the answer is
   * sent: the span attribute `app.tenant` and the tenant costs are attributed to (`anonymous` when undefined); also
   * read by each rate-limit hook as it decides, for the rate limits by tenant (`GET /admin/ratelimits/tenants`).
   * @default no tenant
   */
  tenantOf?: (request: FastifyRequest) => string | undefined;
  /**
   * Cost attribution (`headroom_tenant_requests_total`, `headroom_tenant_cpu_seconds_total`, `GET /admin/showback`):
   * how process CPU is read and split across requests in flight (see tenant-costs.ts); `false` turns it off.
   * @default on when `tenantOf` is set: { cpu: process.cpuUsage, interval: 1000, rankEvery: 60000 }
   */
  cost?: CostOptions | false;
  /** The buckets of `http_request_duration_seconds` (seconds), before the spec's budgets. @default 1 ms to 10 s */
  latencyBuckets?: readonly number[];
  /** Where the Prometheus text is served. @default '/metrics' */
  metricsPath?: string;
  /**
   * Guards `/metrics` (throw a 401/403 HeadroomError to refuse): its series can show per-tenant or per-tier
   * volumes, so a multi-tenant service should not serve them to its tenants. @default open to anyone
   */
  metricsAuthorize?: (request: FastifyRequest, reply: FastifyReply) => void | Promise<void>;
  /** Time source of the readiness timeout and the shutdown drain. @default systemClock() */
  clock?: Clock;
  /** Serve the admin API behind this authorization (operators and tenant admins). @default no admin API */
  admin?: AdminOptions;
  /**
   * At close, handlers that are running may finish for this long (ms) before their connections are dropped;
   * connections idle after an answer are dropped at once, and one still bringing a request gets at most
   * `arrivalGrace` (250 ms) for it to arrive (then it is served) before it is dropped. @default 10000
   */
  drainTimeout?: number;
  /**
   * Where routes with `config.idempotency` keep their keys (`createIdempotency` from
   * `@headroom/core/idempotency`). @default none: such a route fails at start-up
   */
  idempotency?: Idempotency;
  /** @deprecated renamed `drainTimeout` (same unit); this name goes in the next release. */
  drainMs?: number;
  /** Limits of the process checks in `/health`: event-loop delay and heap use (each warns past its limit). */
  health?: SystemCheckOptions;
  /**
   * An adaptive concurrency limit at the door: checked first, before authentication or any body is read; a
   * request beyond it gets 503 HR_OVERLOADED with Retry-After at once. @default none
   */
  overload?: OverloadOptions;
  /**
   * Real-user monitoring: `POST /rum` takes web-vitals beacons (TTFB, FCP, LCP, INP, CLS) for these journeys into
   * `headroom_rum_seconds{journey,metric}` and `headroom_rum_cls{journey}` (see `rumRoutes`). @default off
   */
  rum?: Omit<RumOptions, 'clock'>;
  /**
   * The operations page at `/_headroom` (see ops-page/ops-page.ts): SLOs, top offenders, protection, caches, work,
   * release and flags, with their controls, for operators who sign in with the service's own authentication.
   * @default no page
   */
  opsPage?: OpsPageOptions;
}

/** What the plugin adds to the Fastify instance as `app.headroom`. */
export interface HeadroomDecoration {
  /** This instance's prom-client registry; other modules register their metrics here. */
  readonly registry: Registry;
  /** Every route registered after the plugin, as `{ method, url }` with the route template (HEAD included). */
  readonly routes: ReadonlyArray<{ method: string; url: string }>;
  /** Breakers, bulkheads, retries, hedges and rate limiters the app registered, for metrics, health and admin. */
  readonly protection: Protection;
  /** The app's caches, for metrics and the admin API: `app.headroom.caches.add(cache)`. */
  readonly caches: CacheRegistry;
  /** The app's job queue, for metrics, health and the admin API: `app.headroom.jobs.add(jobs)`. */
  readonly jobs: JobRegistry;
  /** The app's webhook sending, for metrics and the admin API: `app.headroom.webhooks.add(webhooks)`. */
  readonly webhooks: WebhookRegistry;
  /** The app's SLO degrader, fed every answer of the routes it watches: `app.headroom.degrader.add(degrader)`. */
  readonly degrader: DegraderRegistry;
  /** The app's feature flags, for metrics and the admin API: `app.headroom.flags.add(flags)`. */
  readonly flags: FlagRegistry;
  /** The app's hot-reloaded config, for metrics and /health: `app.headroom.config.add(config)`. */
  readonly config: ConfigRegistry;
  /**
   * Installs a graceful shutdown on SIGTERM and SIGINT (see shutdown.ts): readiness 503 at once, serving on for
   * `delay`, then the drain, the app's `onClose` hooks and your `steps`, then exit 0; a second signal exits 1.
   */
  shutdown(options?: ShutdownOptions): Shutdown;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** HTTP caching of this route's 200 answers to GET/HEAD (see http-cache.ts). */
    httpCache?: HttpCacheOptions;
    /** Rate limits of this route: 429 + RateLimit headers when a bucket is empty. */
    rateLimit?: RouteRateLimit;
    /** Concurrency limit of this route's handler: 503 HR_OVERLOADED + Retry-After when full. */
    concurrency?: RouteConcurrency;
    /** The Idempotency-Key protocol around this route's handler (needs the plugin's `idempotency`). */
    idempotency?: RouteIdempotency;
    /** `false`: this route skips the plugin's `overload` limit (health, metrics and admin routes do). */
    overload?: boolean;
  }
  interface FastifyInstance {
    /** Set by the `headroom` plugin of `@headroom/fastify`. */
    headroom: HeadroomDecoration;
  }
  interface FastifyRequest {
    /** When the request arrived (epoch ms on the plugin's clock); see `arrivedAt`. */
    [arrivedAt]: number;
    /** Where the request's time went, phase by phase (see timing.ts). */
    [timingOf]: RequestTiming | undefined;
  }
}

const defaultOptions = {
  commit: 'unknown',
  readinessTimeout: 2000,
  defaultMetrics: true,
  metricsPath: '/metrics',
  drainTimeout: 10_000,
} as const;

async function headroomPlugin(app: FastifyInstance, given: HeadroomOptions): Promise<void> {
  const options: HeadroomOptions = {
    ...given,
    readinessTimeout:
      given.readinessTimeout ??
      deprecatedOption(
        '@headroom/fastify',
        'readinessTimeoutMs',
        'readinessTimeout',
        given.readinessTimeoutMs,
      ),
    drainTimeout:
      given.drainTimeout ?? deprecatedOption('@headroom/fastify', 'drainMs', 'drainTimeout', given.drainMs),
  };
  validate(options);
  const commit = options.commit ?? defaultOptions.commit;
  const metricsPath = options.metricsPath ?? defaultOptions.metricsPath;
  const clock = options.clock ?? systemClock();
  const registry = createMetricsRegistry({
    service: options.service,
    version: options.version,
    commit,
    defaultMetrics: options.defaultMetrics ?? defaultOptions.defaultMetrics,
    startedAt: clock.now(),
  });
  // Before any family is made: each takes its cap from the guard.
  guardSeries(registry, options.spec?.telemetry?.maxSeries ?? defaultMaxSeries);
  const routes: { method: string; url: string }[] = [];
  // Every rate-limit hook built from `protection` counts its decisions by tenant here (admin API, ops page).
  const rateLimits = new RateLimitTenants({ clock });
  const protection = createProtection(registry, clock, { tenants: rateLimits, tenantOf: options.tenantOf });
  const caches = createCacheRegistry(registry, protection);
  const watch: RouteWatch = { version: 0, observer: () => undefined };
  const costs =
    options.cost === false || (options.cost === undefined && options.tenantOf === undefined)
      ? undefined
      : tenantCosts(app, registry, {
          ...options.cost,
          clock,
          tenantOf: options.tenantOf,
          tenantTop: options.spec?.telemetry?.tenantTop ?? 0,
          maxRows: options.spec?.telemetry?.maxSeries ?? defaultMaxSeries,
          objectives: options.spec?.objectives,
        });
  const metrics = httpMetrics(
    registry,
    watch,
    durationBuckets(options.spec, options.latencyBuckets ?? httpDurationBuckets),
    { of: (request) => request[timingOf], now: () => clock.now() },
  );
  const phases = phaseMetrics(registry, options.spec, (request) => request[timingOf]);
  const degrader = createDegraderRegistry(registry, watch);
  const flags = createFlagRegistry(registry);
  const config = createConfigRegistry(registry);
  const methods = routeMethods();
  const jobs = createJobRegistry(registry, clock);
  const webhooks = createWebhookRegistry(registry, clock);
  const lifecycle: Lifecycle = { state: 'serving' };
  const drainTimeout = options.drainTimeout ?? defaultOptions.drainTimeout;
  const drain = drainConnections(app, {
    clock,
    drainTimeout,
  });
  answerUnmetExpectations(app.server);
  const gate = options.overload
    ? overloadGate(options.overload, (reason) => protection.rejected(options.overload!.limit.name, reason))
    : undefined;
  if (options.overload) protection.bulkhead(options.overload.limit);
  // Global, so it runs before a compression hook the app registers after the plugin: the kept answer is the
  // identity body. Apps without idempotency do not pay for it; giving an unsettled key up is the keyed
  // routes' own (idempotentRoute).
  if (options.idempotency) app.addHook('onSend', recordIdempotentAnswer);
  app.addHook('onRoute', function recordRoute(route) {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url });
      methods.add(method, route.url);
    }
    const observePhases = [route.method].flat().flatMap((method) => phases.route(method, route.url) ?? []);
    const charge = costs ? [costs.route(route.method, route.url, route.config)] : [];
    route.onResponse = [
      metrics.route(route.url),
      ...charge,
      ...observePhases,
      ...[route.onResponse ?? []].flat(),
    ];
    protectRoute(route, protection);
    idempotentRoute(route, options.idempotency);
    // Only routes that cache pay for the hook; bad caching options fail here, at start-up.
    const httpCache = (route.config as { httpCache?: HttpCacheOptions } | undefined)?.httpCache;
    if (httpCache) route.onSend = [httpCacheHook(httpCache), ...[route.onSend ?? []].flat()];
  });
  app.decorate('headroom', {
    registry,
    routes,
    protection,
    caches,
    jobs,
    webhooks,
    degrader,
    flags,
    config,
    shutdown: (shutdownOptions?: ShutdownOptions) =>
      installShutdown(app, lifecycle, clock, drainTimeout, shutdownOptions),
  });
  app.decorateRequest(arrivedAt, 0);
  app.decorateRequest(timingOf, undefined);
  const serverTiming = options.serverTiming ?? false;
  const tenantOf = options.tenantOf;
  // Serialization is the time from preSerialization (an object payload about to be serialized) to onSend.
  app.addHook('preSerialization', function startSerializing(request, _reply, payload, done) {
    const timing = request[timingOf];
    if (timing !== undefined) timing.serializeStart = clock.monotonic();
    done(null, payload);
  });
  app.addHook('onSend', function sendTimings(request, reply, payload, done) {
    const timing = request[timingOf];
    if (timing !== undefined) {
      if (timing.noteTrace() && tenantOf !== undefined) {
        const tenant = tenantOf(request);
        if (tenant !== undefined) traceAttributes({ 'app.tenant': tenant });
      }
      if (timing.serializeStart >= 0) {
        timing.add('serialize', clock.monotonic() - timing.serializeStart);
        timing.serializeStart = -1;
      }
      if (serverTiming === true || (serverTiming !== false && serverTiming(request))) {
        reply.header('server-timing', timing.serverTiming(reply.elapsedTime));
      }
    }
    done(null, payload);
  });

  // Every answer starts as `no-store` and `Vary: authorization`: nothing a shared cache may keep (answers
  // depend on who asks, errors carry a request id), and a cache that ignores Cache-Control (nginx with
  // `proxy_ignore_headers`) still keys by the caller. Routes that may be cached say so (`config.httpCache`).
  app.addHook('onRequest', function prepareReply(request, reply, done) {
    request[arrivedAt] = clock.now();
    costs?.start(request, reply);
    const timing = new RequestTiming(clock, request);
    request[timingOf] = timing;
    reply.header(requestIdHeader, request.id);
    reply.header('cache-control', 'no-store');
    reply.header('vary', 'authorization');
    drain.track(request.raw.socket, reply.raw);
    // Shutting down, still serving: each answer closes its connection, so clients reconnect elsewhere before the
    // listener closes instead of reusing a socket that is about to go.
    if (lifecycle.state === 'draining' || drain.closing) reply.header('connection', 'close');
    // HTTP/1.1 requires Host (RFC 9112 §3.2); connectionOptions turns off Node's bare 400 so this one is a problem.
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      const detail = 'an HTTP/1.1 request needs a Host header';
      reply.header('connection', 'close');
      sendProblem(reply, codeProblem(request, 'HR_BAD_REQUEST', detail));
      return;
    }
    if (drain.refuses(request.raw.socket)) {
      reply.header('retry-after', '1');
      const detail = 'the server is shutting down; retry on another instance';
      sendProblem(reply, codeProblem(request, 'HR_SHUTTING_DOWN', detail));
      return;
    }
    // The rest of the request runs with its timing current, where `phase()` finds it.
    if (gate === undefined) runTimed(timing, done);
    else runTimed(timing, () => gate(request, reply, done));
  });
  app.setErrorHandler(burstErrorHandler(clock));
  app.setNotFoundHandler(function answerUnmatched(request, reply) {
    const allowed = methods.allowed(request.url);
    if (allowed.length > 0) {
      const detail = `${request.method} is not allowed here; use ${allowed.join(', ')}`;
      reply.header('allow', allowed.join(', '));
      sendProblem(reply, codeProblem(request, 'HR_METHOD_NOT_ALLOWED', detail));
    } else {
      routeNotFoundHandler(request, reply);
    }
    metrics.unmatched(request, reply);
    costs?.unmatched(request);
  });

  const metricsAuthorize = options.metricsAuthorize;
  app.get(
    metricsPath,
    {
      logLevel: 'warn',
      config: { overload: false },
      ...(metricsAuthorize
        ? {
            onRequest: async (request: FastifyRequest, reply: FastifyReply) =>
              metricsAuthorize(request, reply),
          }
        : {}),
    },
    // Prometheus asks for OpenMetrics first, which carries the latency histogram's exemplars (trace ids);
    // anything else gets the Prometheus text format.
    async (request, reply) =>
      wantsOpenMetrics(request.headers.accept)
        ? reply.type(Registry.OPENMETRICS_CONTENT_TYPE).send(await openMetricsText(registry))
        : reply.type(registry.contentType).send(await registry.metrics()),
  );
  if (options.rum) rumRoutes(app, registry, { budgets: options.spec?.rum ?? [], ...options.rum, clock });
  // One set of breaker isolations, whichever of the admin API and the operations page made them.
  const controlled = {
    protection,
    breakers: breakerControls(protection),
    caches,
    jobs,
    webhooks,
    degrader,
    flags,
    rateLimits,
  };
  if (options.admin) await adminRoutes(app, { ...controlled, costs }, options.admin);
  if (options.opsPage)
    await opsPage(app, { ...controlled, registry, config, clock, spec: options.spec }, options.opsPage);
  const system = systemChecks(options.health);
  app.addHook('onClose', function stopSystemChecks(_instance, done) {
    system.close();
    degrader.degrader?.stop();
    done();
  });
  const readinessTimeout = options.readinessTimeout ?? defaultOptions.readinessTimeout;
  healthRoutes(app, {
    service: options.service,
    version: options.version,
    readiness: withBreakers(
      options.readiness,
      protection,
      jobs,
      lifecycle,
      system,
      degrader,
      config,
      clock,
      readinessTimeout,
    ),
    readinessTimeout,
    clock,
  });
}

// Breakers join the health checks: an open critical breaker fails readiness; an optional one only warns. So do
// the job queues, which only warn (a backlog or a paused queue is no reason to stop taking requests), and the
// process's own event loop and heap. The queue counts are bounded in time on their own, so a slow count cannot
// hide the app's checks.
function withBreakers(
  readiness: Readiness | undefined,
  protection: Protection,
  jobs: JobRegistry,
  lifecycle: Lifecycle,
  system: ReturnType<typeof systemChecks>,
  degrader: DegraderRegistry,
  config: ConfigRegistry,
  clock: Clock,
  timeout: number,
): Readiness {
  return async function readinessWithBreakers(signal) {
    // Shutting down: not ready at once, whatever the dependencies say (and without asking them).
    if (lifecycle.state !== 'serving') {
      return {
        ready: false,
        checks: { shutdown: { status: 'fail', output: `shutting down (${lifecycle.state})` } },
      };
    }
    const [result, queues] = await Promise.all([
      readiness ? readiness(signal) : { ready: true },
      orAfter(jobs.checks(), clock, timeout / 2, {
        jobs: { status: 'warn', output: `the queue counts took longer than ${timeout / 2} ms` },
      }),
    ]);
    const checks: Record<string, HealthCheck> = {
      ...result.checks,
      ...queues,
      ...degrader.checks(),
      ...config.checks(),
      ...system.read(),
    };
    let ready = result.ready;
    for (const [name, { breaker, critical }] of protection.breakers) {
      const state = breaker.state;
      const healthy = state === 'closed';
      if (!healthy && critical) ready = false;
      checks[`breaker:${name}`] = {
        status: healthy ? 'pass' : critical ? 'fail' : 'warn',
        ...(healthy ? {} : { output: `circuit ${state}` }),
      };
    }
    return { ready, checks };
  };
}

function validate(options: HeadroomOptions): void {
  const invalid = (name: keyof HeadroomOptions, rule: string) =>
    invalidOption('@headroom/fastify', name, rule, options[name]);
  for (const name of ['service', 'version'] as const) {
    if (typeof options[name] !== 'string' || options[name] === '') {
      throw invalid(name, 'a non-empty string');
    }
  }
  const timeout = options.readinessTimeout;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw invalid('readinessTimeout', 'a positive number of milliseconds');
  }
  if (options.readiness !== undefined && typeof options.readiness !== 'function') {
    throw invalid('readiness', 'a function');
  }
  if (options.metricsPath !== undefined && !options.metricsPath.startsWith('/')) {
    throw invalid('metricsPath', 'a path starting with "/"');
  }
  if (options.metricsAuthorize !== undefined && typeof options.metricsAuthorize !== 'function') {
    throw invalid('metricsAuthorize', 'a function');
  }
  const drain = options.drainTimeout;
  if (drain !== undefined && !(Number.isFinite(drain) && drain >= 0)) {
    throw invalid('drainTimeout', 'a number of milliseconds >= 0');
  }
}

/**
 * Problem+json errors, Prometheus metrics, health endpoints and request-id echo for a Fastify 5 app. Wrapped
 * with fastify-plugin, so its hooks and handlers apply to the instance it is registered on.
 *
 * @example
 * const app = Fastify({ logger: true, ...requestIdOptions() });
 * await app.register(headroom, { service: 'casebook', version: '1.0.0', commit: 'abc123', readiness });
 * new Counter({ name: 'casebook_logins_total', help: 'Logins', registers: [app.headroom.registry] });
 */
export const headroom = fp(headroomPlugin, { fastify: '5.x', name: '@headroom/fastify' });
