// Drills with a real redis-server: two casebook instances share a tenant's quota through Redis; Redis killed
// while requests flow → limits continue locally with no failed request; restarted → Redis decides again.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { redisRateLimitStore } from '@headroom/core/ratelimit/redis';
import { startRedis } from '@headroom/dev-servers/redis';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app.ts';
import { createLimits } from '../src/protection/limits.ts';
import { tierQuotas } from '../src/tenancy/tiers.ts';
import { startTestApp, type TestApp } from './support/app.ts';

const redis = await startRedis();
const clients: Redis[] = [];
const client = () => {
  const c = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 100 });
  c.on('error', () => {});
  clients.push(c);
  return c;
};

let a: TestApp;
let b: Awaited<ReturnType<typeof buildApp>>;
before(async () => {
  const redisA = client();
  const redisB = client();
  await Promise.all([once(redisA, 'ready'), once(redisB, 'ready')]);
  a = await startTestApp({ realLimits: true, rateLimitStore: redisRateLimitStore(redisA) });
  // Instance B: same database and clock, its own limiter and Redis connection.
  b = await buildApp({
    pool: a.db.pool,
    clock: a.clock,
    limits: createLimits({ clock: a.clock, store: redisRateLimitStore(redisB), instances: 2 }),
  });
  await b.ready();
});
after(async () => {
  await b.close();
  await a.close();
  for (const c of clients) c.disconnect();
  await redis.stop();
});

const search = (app: typeof b, token: string) =>
  app.inject({ url: '/v1/cases/search?q=fraud', headers: { authorization: `Bearer ${token}` } });

test('two instances on one Redis enforce one tenant quota between them', async () => {
  const token = await a.login('analyst@initech.test');
  const codes: number[] = [];
  for (let i = 0; i < 30; i++) codes.push((await search(i % 2 === 0 ? a.app : b, token)).statusCode);
  assert.equal(
    codes.filter((c) => c === 200).length,
    tierQuotas.free.burst,
    'one burst across both, not one each',
  );
  assert.ok(codes.slice(tierQuotas.free.burst).every((c) => c === 429));
});

test('Redis killed while requests flow: no failed request, limits continue locally; restarted: Redis decides again', async () => {
  const token = await a.login('analyst@acme.test');
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await search(a.app, token)).statusCode);
  await redis.kill();
  for (let i = 0; i < 20; i++) statuses.push((await search(a.app, token)).statusCode);
  assert.deepEqual(new Set(statuses), new Set([200]), 'every request answered 200 while Redis was dead');
  const during = (await a.operator({ url: '/metrics' })).body;
  assert.match(
    during,
    /headroom_ratelimit_decisions_total\{policy="enterprise",result="allowed",source="insurance"\} [1-9]/,
  );

  await redis.start();
  await Promise.all(clients.map((c) => (c.status === 'ready' ? undefined : once(c, 'ready'))));
  a.clock.advance(1_000); // the limiter's cooldown before it probes Redis again
  const storeBefore = storeDecisions((await a.operator({ url: '/metrics' })).body);
  for (let i = 0; i < 5; i++) assert.equal((await search(a.app, token)).statusCode, 200);
  const storeAfter = storeDecisions((await a.operator({ url: '/metrics' })).body);
  assert.ok(storeAfter >= storeBefore + 4, `Redis decides again (${storeBefore} → ${storeAfter})`);
});

function storeDecisions(metrics: string): number {
  const match =
    /headroom_ratelimit_decisions_total\{policy="enterprise",result="allowed",source="store"\} (\d+)/.exec(
      metrics,
    );
  return Number(match?.[1] ?? 0);
}
