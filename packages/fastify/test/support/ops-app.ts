// A small service with the headroom plugin and the operations page, for the page's tests: objectives on three
// routes, a critical breaker, a bulkhead, a cache, flags, a hot-reloaded config and, given a database, a job
// queue and webhook sending. Its operator signs in with a token; an analyst with an email and a password.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey, createCache } from '@headroom/core/cache';
import { type Clock, FakeClock, systemClock } from '@headroom/core/clock';
import { createConfig } from '@headroom/core/config';
import { queryLeaderboard } from '@headroom/core/db';
import { createFlags } from '@headroom/core/flags';
import { createJobs, jobsSchemaSql } from '@headroom/core/jobs';
import { bulkhead, circuitBreaker } from '@headroom/core/policy';
import { createRateLimiter, rateLimitKey } from '@headroom/core/ratelimit';
import { createDegrader, type Objective, type StatusPattern } from '@headroom/core/slo';
import { createWebhooks, webhooksSchemaSql } from '@headroom/core/webhooks';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { fastifyErrors, headroom } from '../../src/index.ts';
import { type OpsPageOptions, opsPage } from '../../src/ops-page/ops-page.ts';

export const operatorToken = 'operator-token-0123456789abcdef';
export const analyst = { email: 'analyst@example.test', password: 'analyst password' };
export const opsSecret = 'ops-secret-0123456789abcdef0123456789';

/** An objective as `loadSpec` gives it, with what the page shows of it. */
interface TestObjective {
  name: string;
  method: string;
  route: string;
  latency: Record<string, number>;
  errors: { value: number; statuses?: readonly StatusPattern[] };
  availability?: { value: number };
  phases?: Record<string, number>;
}

/** The service's objectives: /fast holds its budgets, /slow misses its p95, /boom fails. */
export const opsSpec: { objectives: TestObjective[] } = {
  objectives: [
    {
      name: 'fast',
      method: 'GET',
      route: '/fast',
      latency: { p50: 20, p95: 50, p99: 100 },
      errors: { value: 0.01, statuses: ['5xx'] },
      availability: { value: 0.99 },
      phases: { serialize: 5 },
    },
    { name: 'slow', method: 'GET', route: '/slow', latency: { p95: 2 }, errors: { value: 0.01 } },
    { name: 'boom', method: 'GET', route: '/boom', latency: { p95: 50 }, errors: { value: 0.001 } },
  ],
};

export interface OpsApp {
  app: FastifyInstance;
  /** The breaker's own clock: its state moves only when a test says so. */
  breakerClock: FakeClock;
  close(): Promise<void>;
}

/**
 * Builds the service (not listening). `db`: a database where the job and webhook tables are made.
 *
 * @example
 * const { app, close } = await opsApp({ clock: new FakeClock() });
 */
export async function opsApp(
  options: { clock?: Clock; db?: pg.Pool; trustProxy?: boolean; page?: Partial<OpsPageOptions> } = {},
): Promise<OpsApp> {
  const clock = options.clock ?? systemClock();
  const app = Fastify({ trustProxy: options.trustProxy ?? false });
  await app.register(headroom, {
    service: 'ops-test',
    version: '1.2.3',
    commit: 'abc1234',
    defaultMetrics: false,
    clock,
    spec: opsSpec,
    // Tests only: the tenant of a request from a header.
    tenantOf: (request) => request.headers['x-tenant'] as string | undefined,
    admin: {
      authorize(request) {
        if (request.headers.authorization === `Bearer ${operatorToken}`) return { role: 'operator' };
        throw fastifyErrors.create('HR_UNAUTHENTICATED', 'operators only');
      },
    },
  });
  const breakerClock = new FakeClock();
  const upstream = app.headroom.protection.breaker(
    circuitBreaker({ name: 'upstream', clock: breakerClock, minimumCalls: 4, halfOpenAfter: 60_000 }),
    { critical: true },
  );
  app.headroom.protection.bulkhead(bulkhead({ name: 'search', maxConcurrent: 4, maxQueue: 8, clock }));
  const cache = app.headroom.caches.add(createCache({ name: 'cases', clock }));
  const flags = app.headroom.flags.add(
    createFlags({
      clock,
      definitions: {
        suggestions: { default: true },
        related: { default: true },
        search_mode: { type: 'variant', default: 'fts', variants: ['fts', 'trigram'] },
      },
    }),
  );
  // A rule that never fires here (it would need a minute of breach): its override is the page's to test.
  app.headroom.degrader.add(
    createDegrader({
      rules: [
        {
          name: 'slow-sheds-related',
          objective: opsSpec.objectives[1] as Objective,
          features: ['related'],
          breachFor: 60_000,
        },
      ],
      target: flags,
      clock,
    }),
  );
  const dir = await mkdtemp(join(tmpdir(), 'headroom-ops-config-'));
  await writeFile(join(dir, 'app.json'), JSON.stringify({ pageCap: 25 }));
  const schema = {
    type: 'object',
    properties: { pageCap: { type: 'integer' } },
    additionalProperties: false,
  };
  const config = app.headroom.config.add(await createConfig({ schema, dir, file: 'app.json', watch: false }));
  if (options.db) {
    // Loaded by test/global-setup.ts; created per database.
    await options.db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await options.db.query(jobsSchemaSql());
    await options.db.query(webhooksSchemaSql());
    const jobs = app.headroom.jobs.add(createJobs({ db: options.db }));
    app.headroom.webhooks.add(createWebhooks({ jobs }));
    await jobs.enqueue(undefined, 'exports', { id: 1 });
    // A job that used its attempts: what a handler that kept failing leaves (no worker runs here).
    const dead = await jobs.enqueue(undefined, 'imports', { file: 'cases.csv' }, { tenant: 'acme' });
    await options.db.query(
      `UPDATE headroom.jobs SET state = 'dead', attempts = max_attempts, last_error = 'the file is not CSV',
         reason = 'error', finished_at = $2 WHERE id = $1`,
      [dead.id, clock.now()],
    );
  }

  app.get('/fast', async () => ({ ok: true }));
  // Three answers a minute per tenant.
  const limiter = createRateLimiter({ clock, policies: [{ name: 'per-tenant', limit: 3, window: 60_000 }] });
  app.get(
    '/limited',
    {
      config: {
        rateLimit: {
          limiter,
          checks: (request) => [
            {
              key: rateLimitKey({ tenant: String(request.headers['x-tenant'] ?? '-') }, 'limited'),
              policy: 'per-tenant',
            },
          ],
        },
      },
    },
    async () => ({ ok: true }),
  );
  // Slower than its 2 ms p95 budget on purpose.
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { ok: true };
  });
  app.get('/boom', async () =>
    upstream.execute(async () => {
      throw new Error('the upstream is down');
    }),
  );
  app.get('/cases/:id', async (request) => {
    const { id } = request.params as { id: string };
    return cache.getOrSet(
      cacheKey({ tenant: 'acme' }, 'case', id),
      async () => ({ id, flag: flags.enabled('suggestions') }),
      {
        tags: [`case:${id}`],
      },
    );
  });

  await opsPage(
    app,
    { ...app.headroom, clock, spec: opsSpec },
    {
      secret: opsSecret,
      async signIn({ token, email, password }) {
        if (token !== undefined) return token === operatorToken ? 'operator' : undefined;
        return email === analyst.email && password === analyst.password ? 'other' : undefined;
      },
      // The database's own statements, where the test has one (the job queue's, this test's).
      ...(options.db ? { slowQueries: () => queryLeaderboard(options.db!, { limit: 5 }) } : {}),
      ...options.page,
    },
  );
  return {
    app,
    breakerClock,
    async close() {
      await app.close();
      await config.close();
      await cache.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
