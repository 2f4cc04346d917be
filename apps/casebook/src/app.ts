// The one place where casebook is wired: buildApp(deps) creates nothing global and opens no ports.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Cache, createCache } from '@headroom/core/cache';
import { type Clock, systemClock } from '@headroom/core/clock';
import { HeadroomError } from '@headroom/core/errors';
import { headroom, requestIdOptions } from '@headroom/fastify';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type pg from 'pg';
import { authenticate } from './auth/authenticate.ts';
import { accountRoutes, authRoutes } from './auth/routes.ts';
import { activityRoutes } from './cases/activity-routes.ts';
import { caseRoutes } from './cases/routes.ts';
import { database } from './db/database.ts';
import { isMigrated } from './db/migrate.ts';
import { entityRoutes } from './entities/routes.ts';
import { casebookErrorCodes } from './errors.ts';
import { tenantScope } from './http/cached-reads.ts';
import { createLimits, type Limits } from './protection/limits.ts';
import { type EnrichmentClient, unreachableEnrichment } from './suggestions/enrichment-client.ts';
import { type SuggestionsTuning, suggestionsRoutes } from './suggestions/routes.ts';

export interface AppDeps {
  pool: pg.Pool;
  /** @default systemClock() */
  clock?: Clock;
  /** A pino logger or Fastify logger options. @default false (silent) */
  logger?: FastifyServerOptions['loggerInstance'] | FastifyServerOptions['logger'];
  /** @default '0.0.0-dev' */
  version?: string;
  /** @default 'unknown' */
  commit?: string;
  /** Largest request body in bytes. @default 65536 */
  bodyLimit?: number;
  /** Rate and concurrency limits. @default createLimits({ clock }): per-process buckets */
  limits?: Limits;
  /** The application cache. @default an in-process cache */
  cache?: Cache;
  /** Cache reads (search, detail, first pages, principals). Off only for uncached baselines. @default true */
  readCache?: boolean;
  /** The upstream enrichment service of the suggestions route. @default none: suggestions answer `partial` */
  enrichment?: EnrichmentClient;
  /** Timings of the suggestions policies (drills shorten them). */
  suggestions?: Partial<SuggestionsTuning>;
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
  const db = database(deps.pool);
  const logger = deps.logger ?? false;
  const options: FastifyServerOptions = {
    ...(typeof logger === 'object' && logger !== null && 'child' in logger
      ? { loggerInstance: logger }
      : { logger }),
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    // Unknown properties are an error (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    ...requestIdOptions(),
  };
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>();
  const limits = deps.limits ?? createLimits({ clock });
  const cache = deps.cache ?? createCache({ name: 'casebook', clock });
  const reads = deps.readCache === false ? undefined : cache;
  const authenticated = authenticate({ db, clock, ...(reads ? { cache: reads } : {}) });

  let migrated = false;
  await app.register(headroom, {
    service: 'casebook',
    version: deps.version ?? '0.0.0-dev',
    commit: deps.commit ?? 'unknown',
    clock,
    admin: {
      async authorize(request) {
        await authenticated.check(request);
        if (request.principal.role !== 'admin') {
          throw new HeadroomError(
            casebookErrorCodes.HR_FORBIDDEN,
            'the admin API needs an admin of the tenant',
            { status: 403 },
          );
        }
      },
      cacheScope: (request) => tenantScope(request.principal.tenantId),
    },
    async readiness() {
      try {
        migrated ||= await isMigrated(deps.pool);
        if (!migrated)
          return { ready: false, checks: { database: { status: 'fail', output: 'migrations pending' } } };
        await deps.pool.query('SELECT 1');
        return { ready: true, checks: { database: { status: 'pass' } } };
      } catch (error) {
        return { ready: false, checks: { database: { status: 'fail', output: (error as Error).message } } };
      }
    },
  });

  const protection = app.headroom.protection;
  app.headroom.caches.add(cache);
  await app.register(async (open) => {
    open.addHook(
      'preValidation',
      protection.rateLimitHook({ limiter: limits.limiter, checks: limits.loginChecks }),
    );
    await open.register(authRoutes, { db, clock });
  });
  await app.register(async (api) => {
    api.addHook('onRequest', authenticated);
    // Right after authentication, before any body is read: a limited caller costs no parsing.
    api.addHook(
      'onRequest',
      protection.rateLimitHook({ limiter: limits.limiter, checks: limits.tenantChecks }),
    );
    await api.register(accountRoutes, { db, clock, ...(reads ? { cache: reads } : {}) });
    await api.register(caseRoutes, { db, clock, cache: reads, searchLimiter: limits.search });
    await api.register(activityRoutes, { db, clock, cache: reads });
    await api.register(entityRoutes, { db, clock, cache: reads });
    await api.register(suggestionsRoutes, {
      db,
      clock,
      cache,
      enrichment: deps.enrichment ?? unreachableEnrichment,
      ...(deps.suggestions ? { tuning: deps.suggestions } : {}),
    });
  });
  app.addHook('onClose', async () => {
    await cache.close();
  });
  return app;
}
