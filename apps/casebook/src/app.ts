// The one place where casebook is wired: buildApp(deps) creates nothing global and opens no ports.

import { join } from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Cache, createCache } from '@headroom/core/cache';
import { type Clock, systemClock, type Timer } from '@headroom/core/clock';
import type { Config } from '@headroom/core/config';
import type { Flags } from '@headroom/core/flags';
import { createIdempotency, type Idempotency } from '@headroom/core/idempotency';
import { postgresIdempotencyStore } from '@headroom/core/idempotency/postgres';
import { createJobs, type ListenClient } from '@headroom/core/jobs';
import { bulkhead } from '@headroom/core/policy';
import { createDegrader, type DegradeSource, loadSpec, type Spec } from '@headroom/core/slo';
import { createWebhooks, type EgressOptions, type WebhooksOptions } from '@headroom/core/webhooks';
import {
  type AdminAccess,
  type ConnectionTimeouts,
  connectionOptions,
  type HealthCheck,
  headroom,
  inBursts,
  type ReadinessResult,
  requestIdOptions,
  timedHook,
  tracedJob,
  validatorCompiler,
} from '@headroom/fastify';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type pg from 'pg';
import { Gauge, Histogram } from 'prom-client';
import { authenticate } from './auth/authenticate.ts';
import { loginThrottle } from './auth/login-throttle.ts';
import { operatorCheck, operatorTokenCheck } from './auth/operator.ts';
import { accountRoutes, authRoutes, userByLogin } from './auth/routes.ts';
import { activityRoutes } from './cases/activity-routes.ts';
import { caseRoutes } from './cases/routes.ts';
import { connectBreaker, type DatabaseObserver, database } from './db/database.ts';
import { isMigrated } from './db/migrate.ts';
import { defaultDatabaseLimits } from './db/pool.ts';
import { type RouteDeadlineOptions, routeDeadlineOf, routeDeadlines } from './db/route-deadlines.ts';
import { readStatementCatalogue, slowQueries } from './db/slow-queries.ts';
import { entityRoutes } from './entities/routes.ts';
import { casebookErrors } from './errors.ts';
import { exportJob, exportsQueue } from './exports/export-job.ts';
import { exportRoutes } from './exports/routes.ts';
import { casebookFlags, flagContext } from './flags.ts';
import { registerCompression } from './http/compression.ts';
import { createLimits, type Limits } from './protection/limits.ts';
import { defaultSettingsDir, flagDefinitions, loadSettings, type Settings } from './settings.ts';
import { type EnrichmentClient, unreachableEnrichment } from './suggestions/enrichment-client.ts';
import { suggestionsRoutes } from './suggestions/routes.ts';
import type { SuggestionsTuning } from './suggestions/tuning.ts';
import { eventPublisher } from './webhooks/events.ts';
import { webhookRoutes } from './webhooks/routes.ts';

export interface AppDeps {
  pool: pg.Pool;
  /**
   * `pool` reaches PostgreSQL through a transaction pooler (PgBouncer in transaction mode): statements go
   * unnamed (see `database`). `listen` must then open a direct connection. @default false
   */
  pooler?: boolean;
  /** Told of every statement the routes send (`npm run db:record` keeps them as the statement catalogue). */
  onStatement?: DatabaseObserver['statement'];
  /** @default systemClock() */
  clock?: Clock;
  /**
   * OpenTelemetry tracing (`startTracing` of `@headroom/fastify/otel`), registered before any route.
   * @default none: no spans
   */
  tracing?: { plugin: FastifyPluginCallback };
  /** A pino logger or Fastify logger options. @default false (silent) */
  logger?: FastifyServerOptions['loggerInstance'] | FastifyServerOptions['logger'];
  /** @default '0.0.0-dev' */
  version?: string;
  /** @default 'unknown' */
  commit?: string;
  /** Largest request body in bytes. @default 65536 */
  bodyLimit?: number;
  /**
   * What an operator tunes without a restart (casebook.yaml: tier quotas and page caps, cache times, the
   * upstream's timeouts and breaker, database deadlines, flags, degrader timings), read at use. The app closes
   * it when it closes. @default apps/casebook/config/casebook.yaml, read once, not watched
   */
  settings?: Config<Settings>;
  /**
   * Rate and concurrency limits. @default createLimits({ clock, tiers: settings' tiers }): per-process buckets.
   * Limits of one's own take the tiers' quotas from the settings only when built with `tiers`.
   */
  limits?: Limits;
  /** The application cache. @default an in-process cache */
  cache?: Cache;
  /** Cache reads (search, detail, first pages, principals). Off only for uncached baselines. @default true */
  readCache?: boolean;
  /** The upstream enrichment service of the suggestions route. @default none: suggestions answer `partial` */
  enrichment?: EnrichmentClient;
  /** Timings of the suggestions policies, over the settings' (drills shorten them). */
  suggestions?: Partial<SuggestionsTuning>;
  /**
   * The operator's bearer token: `/metrics`, shared breakers, bulkheads and every cache's stats need it.
   * Tenant admins never get those. @default none: nobody is an operator, `/metrics` answers 401
   */
  operatorToken?: string;
  /**
   * The key of the operations page's sessions (`/_headroom`), at least 32 characters, the same on every instance.
   * @default a random key per process: a session lasts as long as the process, on that instance only
   */
  opsSecret?: string;
  /** Header, body and keep-alive timeouts of connections. @default defaultConnectionTimeouts */
  connection?: Partial<ConnectionTimeouts>;
  /** The objectives whose budgets bound each route's database calls. @default apps/casebook/headroom.yaml */
  spec?: Spec;
  /**
   * How a route's budget becomes the deadline of its database calls (see db/route-deadlines.ts).
   * @default { factor: 5, min: 250, max: 3000 (the pool's answer bound), overrides: {} }
   */
  databaseDeadlines?: Partial<RouteDeadlineOptions>;
  /**
   * Settles when start-up work (seeding the demo data) is done: until then `/health/ready` is 503 and `/v1`
   * answers 503 HR_NOT_READY with Retry-After. @default already started
   */
  startup?: PromiseLike<unknown>;
  /**
   * Opens a connection for LISTEN (the job queue's wake-up): it must reach PostgreSQL directly, never through a
   * transaction pooler. @default none: export workers find jobs by polling (every second)
   */
  listen?: () => Promise<ListenClient>;
  /** Export jobs this process runs at once; 0 runs none (another process does). @default 2 */
  exportWorkers?: number;
  /**
   * Webhook sending: where deliveries may go besides public addresses (`allowedHosts`, from
   * `WEBHOOK_ALLOWED_HOSTS`: `host` or `host:port`), the resolver that vets them, the attempts this process
   * sends at once (`workers`, 0 for none: another process sends), and `createWebhooks`' tuning (`timeout`,
   * `endpointConcurrency`, `disableAfter`). @default public addresses only, the system resolver, 64 workers
   */
  webhooks?: EgressOptions &
    Pick<WebhooksOptions, 'timeout' | 'endpointConcurrency' | 'disableAfter'> & {
      workers?: number;
      /** Milliseconds between looks at the webhook queues when no NOTIFY came. @default 1_000 */
      pollInterval?: number;
      /** Milliseconds before another process sends what a dead one was sending. @default 30_000 */
      lease?: number;
    };
  /**
   * Where the degrader reads the SLIs of its rules: `prometheusSource(…)` judges the whole fleet's answers (every
   * instance turns the same features off together). @default this process's own answers
   */
  degraderSource?: DegradeSource;
  /** Feature flags (`expand_depth_3`, `suggestions`, `exports`). @default casebookFlags(clock) */
  flags?: Flags;
  /** Redis, when casebook runs with it (`REDIS_URL`): pinged by the health checks. @default none */
  redis?: { ping(): Promise<unknown> };
  /** How often an export's event stream looks (ms) and how long one lasts at most. @default 500 and 300_000 */
  exportEvents?: { pollInterval?: number; streamLimit?: number };
}

/**
 * Builds casebook's Fastify instance (not listening).
 *
 * @example
 * const app = await buildApp({ pool });
 * const res = await app.inject({ method: 'GET', url: '/health/live' });
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? systemClock();
  // Set once the plugin's registry exists; the database reports its pool waits to it.
  let poolWait: Histogram | undefined;
  const connecting = connectBreaker(clock);
  // Each route's database deadline, from its budget and the settings' factor; one map, refilled by a reload.
  const deadlineMap = new Map<string, number>();
  const db = database(
    deps.pool,
    {
      acquired: (ms) => poolWait?.observe(ms / 1000),
      ...(deps.onStatement ? { statement: deps.onStatement } : {}),
    },
    {
      connectBreaker: connecting,
      clock,
      pooler: deps.pooler ?? false,
      deadline: routeDeadlineOf(deadlineMap),
    },
  );
  const logger = deps.logger ?? false;
  const options: FastifyServerOptions = {
    ...(typeof logger === 'object' && logger !== null && 'child' in logger
      ? { loggerInstance: logger }
      : { logger }),
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    ...requestIdOptions(),
    ...connectionOptions(deps.connection),
  };
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>();
  if (deps.tracing) await app.register(deps.tracing.plugin);
  // Bodies keep their JSON types (a number is not a title), unknown members are a 400, and every string is
  // text PostgreSQL can store (no NUL, no unpaired surrogate).
  app.setValidatorCompiler(validatorCompiler());
  // A JSON API: any other body is 415, not a string that fails the schema later.
  app.removeContentTypeParser('text/plain');
  const settings = deps.settings ?? (await loadSettings({ dir: defaultSettingsDir, clock, watch: false }));
  const limits = deps.limits ?? createLimits({ clock, tiers: () => settings.get().tiers });
  const cache = deps.cache ?? createCache({ name: 'casebook', clock });
  const reads = deps.readCache === false ? undefined : cache;
  const authenticated = authenticate({ db, clock, ...(reads ? { cache: reads } : {}) });
  const spec = deps.spec ?? (await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml')));
  // Feature flags, and the SLO degrader that turns the costly ones off while an objective is breached.
  const flags = deps.flags ?? casebookFlags(clock);
  const degrader = createDegrader({
    rules: spec.degrade,
    target: flags,
    clock,
    ...(deps.degraderSource ? { source: deps.degraderSource } : {}),
  });
  const computeDeadlines = (s: Settings) => {
    const next = routeDeadlines(spec, {
      factor: s.database.routeDeadlineFactor,
      min: 250,
      max: defaultDatabaseLimits.queryTimeout,
      overrides: { ...s.database.routeDeadlines },
      ...deps.databaseDeadlines,
    });
    deadlineMap.clear();
    for (const [route, ms] of next) deadlineMap.set(route, ms);
  };
  // What the settings drive beyond reads at use: the deadlines, the flags' definitions (when casebook made
  // the flags) and the degrader's timings.
  const applySettings = (s: Settings, version: string) => {
    computeDeadlines(s);
    if (!deps.flags) flags.replace(flagDefinitions(s), { by: 'config', reason: `config ${version}` });
    for (const [rule, timings] of Object.entries(s.degrade)) {
      if (degrader.states().some((state) => state.rule === rule)) degrader.tune(rule, timings);
      else app.log.warn({ rule }, 'config: degrade names a rule headroom.yaml does not have; ignored');
    }
  };

  const isOperator = deps.operatorToken ? operatorCheck(deps.operatorToken) : () => false;
  const isOperatorToken = deps.operatorToken ? operatorTokenCheck(deps.operatorToken) : () => false;
  const requireOperator = (request: FastifyRequest) => {
    if (!isOperator(request)) {
      throw casebookErrors.create('HR_UNAUTHENTICATED', 'this needs the operator token', {
        headers: { 'www-authenticate': 'Bearer realm="casebook-operations"' },
      });
    }
  };
  let started = deps.startup === undefined;
  deps.startup?.then(
    () => {
      started = true;
    },
    (error: unknown) => app.log.error({ err: error }, 'start-up failed; casebook stays not ready'),
  );

  // Jobs live beside the data too: an export's job is enqueued in the transaction that records the export.
  const jobs = createJobs({ db: deps.pool, clock, ...(deps.listen ? { listen: deps.listen } : {}) });
  const streams = bulkhead({ name: 'export-events', maxConcurrent: 200, maxPerKey: 20, clock });
  // Webhooks ride the same queue: an event is written in the transaction of the write that causes it.
  const {
    workers: webhookWorkers = 64,
    pollInterval: webhookPoll,
    lease: webhookLease,
    ...webhookOptions
  } = deps.webhooks ?? {};
  const webhooks = createWebhooks({ jobs, clock, ...webhookOptions });
  const publish = eventPublisher(webhooks);
  // Idempotency-Key records live beside the data they guard: a create and its record commit together.
  const idempotency = createIdempotency({ store: postgresIdempotencyStore(deps.pool), clock });
  const sweep = sweepExpired(idempotency, clock, app);

  let migrated = false;
  await app.register(headroom, {
    service: 'casebook',
    spec,
    version: deps.version ?? '0.0.0-dev',
    commit: deps.commit ?? 'unknown',
    clock,
    metricsAuthorize: requireOperator,
    // Real-user beacons (web-vitals) for the journeys headroom.yaml budgets: POST /rum.
    ...(spec.rum.length > 0 ? { rum: { journeys: spec.rum.map((r) => r.journey) } } : {}),
    // The tenant of a span is the principal's, never a header's or baggage's.
    tenantOf: (request) => (request.principal ? String(request.principal.tenantId) : undefined),
    // Where the time goes, for operators and tenant admins always, for others while `server_timing` is on.
    // A request with a principal is never the operator's (the operator token is no session): the digest of its
    // Authorization header (about 5% of a cached search's CPU, bench:peer-stack's profile) is skipped for it.
    serverTiming: (request) =>
      request.principal === undefined
        ? isOperator(request)
        : request.principal.role === 'admin' ||
          flags.enabled('server_timing', flagContext(request.principal)),
    idempotency,
    ...(limits.door
      ? {
          overload: {
            limit: limits.door,
            ...(limits.doorSaturation ? { saturation: limits.doorSaturation } : {}),
          },
        }
      : {}),
    // The operations page: the operator signs in with OPERATOR_TOKEN; a tenant's admin or analyst signs in as on
    // /v1/auth/login (their failures count against the same throttle) and is refused, the page being process-wide.
    opsPage: {
      ...(deps.opsSecret ? { secret: deps.opsSecret } : {}),
      // The statements with the most database time, each with the routes the statement catalogue names.
      slowQueries: slowQueries(deps.pool, await readStatementCatalogue()),
      async signIn({ token, email, password }, request) {
        if (token !== undefined) return isOperatorToken(token) ? 'operator' : undefined;
        if (email === undefined || password === undefined) return undefined;
        const throttle = loginThrottle(limits.limiter);
        const buckets = limits.loginFailures(request, email.toLowerCase());
        await throttle.admit(buckets);
        if (await userByLogin(db, email.toLowerCase(), password)) return 'other';
        await throttle.failed(buckets);
        return undefined;
      },
    },
    admin: {
      async authorize(request): Promise<AdminAccess> {
        if (isOperator(request)) return { role: 'operator' };
        await authenticated.check(request);
        if (request.principal.role !== 'admin') {
          throw casebookErrors.create('HR_FORBIDDEN', 'the admin API needs an admin of the tenant');
        }
        return { role: 'tenant', tenant: String(request.principal.tenantId) };
      },
    },
    async readiness(): Promise<ReadinessResult> {
      if (!started) {
        return { ready: false, checks: { startup: { status: 'fail', output: 'start-up work in progress' } } };
      }
      const database = 'database:responseTime';
      const redisCheck = deps.redis ? redisPing(deps.redis, clock) : undefined;
      try {
        migrated ||= await isMigrated(deps.pool);
        if (!migrated)
          return { ready: false, checks: { [database]: { status: 'fail', output: 'migrations pending' } } };
        const began = clock.monotonic();
        await deps.pool.query('SELECT 1');
        const latency = Math.round((clock.monotonic() - began) * 10) / 10;
        return {
          ready: true,
          checks: {
            [database]: {
              status: 'pass',
              componentType: 'datastore',
              observedValue: latency,
              observedUnit: 'ms',
            },
            ...(redisCheck ? { 'redis:responseTime': await redisCheck } : {}),
            ...cacheChecks(cache),
          },
        };
      } catch (error) {
        // The driver's message names hosts and ports: it goes to the log, never to the caller.
        app.log.warn({ err: error }, 'readiness: database check failed');
        return { ready: false, checks: { [database]: { status: 'fail', output: 'database unreachable' } } };
      }
    },
  });
  if (!started) {
    app.addHook('onRequest', function notBeforeStartup(request, _reply, done) {
      if (started || !request.url.startsWith('/v1/')) return done();
      done(
        casebookErrors.create('HR_NOT_READY', 'casebook is starting; retry shortly', {
          headers: { 'retry-after': '5' },
        }),
      );
    });
  }

  // After the headroom plugin (its own routes, /health, /metrics, /admin, stay as they are), before
  // casebook's: every v1 answer from 1 KB is sent in br or gzip to a client that asks for it.
  await registerCompression(app);

  poolWait = new Histogram({
    name: 'headroom_db_pool_wait_seconds',
    help: 'Time a query waited for a PostgreSQL connection from the pool.',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [app.headroom.registry],
  });
  const pool = deps.pool;
  new Gauge({
    name: 'headroom_db_pool_connections',
    help: 'PostgreSQL pool connections by state: idle, active (checked out), waiting (callers queued for one).',
    labelNames: ['state'] as const,
    registers: [app.headroom.registry],
    collect() {
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'active' }, pool.totalCount - pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });

  const protection = app.headroom.protection;
  // Open, every database call answers 503 at once: readiness fails with it (critical).
  protection.breaker(connecting, { critical: true });
  // The search bulkhead guards queries inside the cache's loader, not the route: register it for metrics
  // and the admin API here.
  protection.bulkhead(limits.search);
  app.headroom.caches.add(cache);
  app.headroom.jobs.add(jobs);
  app.headroom.webhooks.add(webhooks);
  app.headroom.flags.add(flags);
  app.headroom.config.add(settings);
  applySettings(settings.get(), settings.version);
  const settingsChanged = settings.onChange(({ next, version, previousVersion, trigger }) => {
    applySettings(next, version);
    app.log.info({ version, previousVersion, trigger, file: settings.file }, 'config applied');
  });
  const settingsRefused = settings.onReject(({ errors, version, file }) =>
    app.log.error({ errors, version, file }, 'config refused: the config in force stays'),
  );
  if (spec.degrade.length > 0) app.headroom.degrader.add(degrader);
  degrader.onAction((e) => app.log.warn(e, `degrader: ${e.action} ${e.features.join(', ')}`));
  protection.bulkhead(streams);
  await app.register(async (open) => {
    open.addHook(
      'preValidation',
      protection.rateLimitHook({ limiter: limits.limiter, checks: limits.loginChecks }),
    );
    await open.register(authRoutes, {
      db,
      clock,
      loginFailures: { throttle: loginThrottle(limits.limiter), checks: limits.loginFailures },
    });
  });
  await app.register(async (api) => {
    // First, so that authentication's own queries are bounded by the route's deadline too.
    api.addHook('onRequest', timedHook('auth', authenticated));
    // Right after authentication, before any body is read: a limited caller costs no parsing.
    api.addHook(
      'onRequest',
      protection.rateLimitHook({ limiter: limits.limiter, checks: limits.tenantChecks }),
    );
    await api.register(accountRoutes, { db, clock, ...(reads ? { cache: reads } : {}) });
    await api.register(caseRoutes, {
      db,
      clock,
      cache: reads,
      searchLimiter: limits.search,
      publish,
      flags,
      settings,
    });
    await api.register(activityRoutes, { db, clock, cache: reads, publish, settings });
    await api.register(entityRoutes, { db, clock, cache: reads });
    await api.register(exportRoutes, { db, jobs, clock, streams, flags, settings, ...deps.exportEvents });
    await api.register(webhookRoutes, { webhooks, settings });
    await api.register(suggestionsRoutes, {
      db,
      clock,
      cache,
      enrichment: deps.enrichment ?? unreachableEnrichment,
      flags,
      settings,
      ...(deps.suggestions ? { tuning: deps.suggestions } : {}),
    });
  });
  // Workers start once start-up work is done (the queue's tables come with the migrations).
  const exportWorkers = deps.exportWorkers ?? 2;
  let closing = false;
  // While PostgreSQL is away every poll, renewal and reap fails: one line per kind every 10 s, with a count.
  const once = inBursts(clock);
  jobs.onError((e) =>
    once(`${e.queue}:${e.operation}`, (suppressed) =>
      app.log.warn(
        { err: e.error, queue: e.queue, operation: e.operation, suppressed },
        'job worker: a database call failed',
      ),
    ),
  );
  const startWorkers = () => {
    if (closing) return;
    if (exportWorkers > 0) {
      const worker = jobs.work(exportsQueue, tracedJob(exportJob(db)), {
        concurrency: exportWorkers,
        timeout: 600_000,
      });
      worker.onEnd((e) => {
        if (e.reason) app.log.warn({ err: e.error, job: e.id, outcome: e.outcome }, 'export job failed');
      });
    }
    if (webhookWorkers > 0) {
      webhooks.work({
        concurrency: webhookWorkers,
        ...(webhookPoll === undefined ? {} : { pollInterval: webhookPoll }),
        ...(webhookLease === undefined ? {} : { lease: webhookLease }),
      });
    }
  };
  webhooks.onDisabled((e) => app.log.warn(e, 'webhook endpoint disabled'));
  app.addHook('onReady', async () => {
    if (deps.startup === undefined) startWorkers();
    else deps.startup.then(startWorkers, () => {});
  });
  app.addHook('onClose', async () => {
    closing = true;
    sweep.cancel();
    settingsChanged.dispose();
    settingsRefused.dispose();
    await settings.close();
    await webhooks.stop(10_000);
    await jobs.stop(10_000);
    await cache.close();
  });
  return app;
}

/**
 * Redis (shared rate limits and cache) as a health check: a PING within 500 ms, else `warn` (casebook fails
 * open to in-process stores while Redis is away: degraded, still ready).
 */
async function redisPing(redis: { ping(): Promise<unknown> }, clock: Clock): Promise<HealthCheck> {
  const began = clock.monotonic();
  let timer: { cancel(): void } | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = clock.setTimeout(() => resolve('late'), 500);
  });
  try {
    const answer = await Promise.race([redis.ping().then(() => 'pong' as const), late]);
    if (answer === 'late')
      return { status: 'warn', componentType: 'datastore', output: 'no PONG within 500 ms' };
    const latency = Math.round((clock.monotonic() - began) * 10) / 10;
    return { status: 'pass', componentType: 'datastore', observedValue: latency, observedUnit: 'ms' };
  } catch {
    return { status: 'warn', componentType: 'datastore', output: 'redis unreachable' };
  } finally {
    timer?.cancel();
  }
}

/**
 * The shared cache's invalidation bus as a health check: down, it warns (degraded: L1 entries expire by TTL),
 * never fails readiness. Its L2 breaker is among the plugin's breakers (`breaker:cache:casebook:l2`, a warning
 * while open) since `app.headroom.caches.add(cache)`.
 */
function cacheChecks(cache: Cache): Record<string, HealthCheck> {
  const { bus } = cache.stats();
  const checks: Record<string, HealthCheck> = {};
  if (bus.healthy !== undefined) {
    checks['cache:bus'] = bus.healthy
      ? { status: 'pass' }
      : { status: 'warn', output: 'invalidation bus down: L1 entries expire by TTL until it returns' };
  }
  return checks;
}

/** Expired idempotency records go every 15 minutes (a sweep is one indexed DELETE); a failure is logged. */
function sweepExpired(idempotency: Idempotency, clock: Clock, app: FastifyInstance): Timer {
  const every = 15 * 60_000;
  let timer: Timer;
  const run = () => {
    idempotency.sweep().then(
      (swept) => {
        if (swept > 0) app.log.debug({ swept }, 'idempotency records swept');
      },
      (error: unknown) => app.log.warn({ err: error }, 'idempotency sweep failed'),
    );
    timer = clock.setTimeout(run, every);
  };
  timer = clock.setTimeout(run, every);
  return { cancel: () => timer.cancel() };
}
