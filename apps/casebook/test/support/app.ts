// A casebook instance for a test file: its own database with the `test` seed profile, a fake clock,
// and helpers to log in as the demo users.

import { FakeClock } from '@headroom/core/clock';
import type { RateLimitStore } from '@headroom/core/ratelimit';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { type AppDeps, buildApp } from '../../src/app.ts';
import { applyRoleLimits, databasePool } from '../../src/db/pool.ts';
import { createLimits } from '../../src/protection/limits.ts';
import { profiles, seed } from '../../src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  clock: FakeClock;
  /** Logs in as a demo user (`analyst@acme.test`, say) and returns the bearer token. */
  login(email: string): Promise<string>;
  /** Sends a request with a bearer token. */
  as(
    token: string,
    request: { method?: string; url: string; payload?: unknown; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
  /** Sends a request as the operator (`/metrics`, process-wide admin routes). */
  operator(request: { method?: string; url: string; payload?: unknown }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** The operator token of test apps: `/metrics` and the process-wide admin routes need it. */
export const testOperatorToken = 'test-operator-token';

/** Headers that authenticate as the operator. */
export const operatorHeaders = { authorization: `Bearer ${testOperatorToken}` } as const;

/** The seed data's base instant; the fake clock starts a little after it. */
export const testNow = Date.parse('2026-06-01T12:00:00Z');

/**
 * Starts casebook on its own database. Quotas are raised 1000× (the fake clock never refills a bucket)
 * unless `realLimits` is set; `deps` override the defaults.
 */
export async function startTestApp(
  options: {
    seeded?: boolean;
    realLimits?: boolean;
    /** Where the rate-limit buckets live (a Redis store, say). @default in-process */
    rateLimitStore?: RateLimitStore;
    /** A LISTEN connection to the test database for the job queue: workers wake on NOTIFY. @default polling only */
    listen?: boolean;
    /**
     * Serve through this pooler (PgBouncer in transaction mode; `url(database)` names the test database behind
     * it): the app's pool goes through it as in scaled mode, while seeding and LISTEN stay direct.
     */
    pooler?: { url(database: string): string };
    deps?: Partial<AppDeps>;
  } = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  if (options.seeded !== false) await seed(db.pool, profiles.test);
  const clock = new FakeClock({ now: testNow });
  let pooled: pg.Pool | undefined;
  if (options.pooler) {
    await applyRoleLimits(db.pool);
    pooled = databasePool(
      options.pooler.url(new URL(db.url).pathname.slice(1)),
      { max: 10 },
      { pooler: true },
    );
    pooled.on('error', () => {}); // the test database is dropped with its connections
  }
  const app = await buildApp({
    pool: pooled ?? db.pool,
    ...(pooled ? { pooler: true } : {}),
    clock,
    operatorToken: testOperatorToken,
    limits: createLimits({
      clock,
      scale: options.realLimits ? 1 : 1000,
      ...(options.rateLimitStore ? { store: options.rateLimitStore } : {}),
    }),
    ...(options.listen
      ? {
          listen: async () => {
            const client = new pg.Client({ connectionString: db.url });
            client.on('error', () => {}); // the test database is dropped with its connections
            await client.connect();
            return client;
          },
        }
      : {}),
    ...options.deps,
    // No webhook worker unless a test asks for one (with a resolver that names a loopback receiver): a test
    // never sends a packet beyond loopback.
    webhooks: { workers: 0, ...options.deps?.webhooks },
  });
  await app.ready();
  return {
    app,
    db,
    clock,
    async login(email) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email, password: 'headroom-demo' },
      });
      if (res.statusCode !== 200) throw new Error(`login as ${email} failed: ${res.statusCode} ${res.body}`);
      return res.json().token as string;
    },
    as(token, request) {
      return app.inject({
        method: (request.method ?? 'GET') as 'GET',
        url: request.url,
        payload: request.payload as string,
        headers: { authorization: `Bearer ${token}`, ...request.headers },
      });
    },
    operator(request) {
      return app.inject({
        method: (request.method ?? 'GET') as 'GET',
        url: request.url,
        payload: request.payload as string,
        headers: operatorHeaders,
      });
    },
    async close() {
      await app.close();
      await pooled?.end();
      await db.close();
    },
  };
}
