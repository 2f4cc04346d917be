// The one place where casebook is wired: buildApp(deps) creates nothing global and opens no ports.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Clock, systemClock } from '@headroom/core/clock';
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

  let migrated = false;
  await app.register(headroom, {
    service: 'casebook',
    version: deps.version ?? '0.0.0-dev',
    commit: deps.commit ?? 'unknown',
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

  await app.register(authRoutes, { db, clock });
  await app.register(async (api) => {
    api.addHook('onRequest', authenticate({ db, clock }));
    await api.register(accountRoutes, { db, clock });
    await api.register(caseRoutes, { db, clock });
    await api.register(activityRoutes, { db, clock });
    await api.register(entityRoutes, { db, clock });
  });
  return app;
}
