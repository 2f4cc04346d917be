// /health with a shared cache: its L2 breaker (among the plugin's breakers) and its invalidation bus are checks
// of their own, and either one down makes casebook degraded (warn, still ready), never unready; the checks in the
// health+json draft's shape, Redis pinged.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCache, memoryBus, memoryStore } from '@headroom/core/cache';
import { createRedisClients } from '@headroom/core/cache/redis';
import { FakeClock } from '@headroom/core/clock';
import { startRedis } from '@headroom/dev-servers/redis';
import { until } from '@headroom/dev-servers/until';
import { startTestApp, testNow } from './support/app.ts';

test('the cache bus down: /health says warn with the reason, /health/ready stays 200; back up: pass', async () => {
  const clock = new FakeClock({ now: testNow });
  const bus = memoryBus();
  const cache = createCache({ name: 'casebook', clock, l2: memoryStore({ clock }), bus });
  const t = await startTestApp({ deps: { clock, cache } });
  try {
    const healthy = (await t.app.inject('/health')).json();
    assert.equal(healthy.status, 'pass');
    assert.deepEqual(
      [healthy.checks['breaker:cache:casebook:l2']?.[0]?.status, healthy.checks['cache:bus']?.[0]?.status],
      ['pass', 'pass'],
    );
    bus.setHealthy(false);
    const degraded = await t.app.inject('/health');
    assert.equal(degraded.statusCode, 200);
    assert.equal(degraded.json().status, 'warn');
    assert.equal(degraded.json().checks['cache:bus'][0].status, 'warn');
    assert.match(degraded.json().checks['cache:bus'][0].output, /invalidation bus down/);
    assert.equal((await t.app.inject('/health/ready')).statusCode, 200);
    bus.setHealthy(true);
    assert.equal((await t.app.inject('/health')).json().status, 'pass');
  } finally {
    await t.close();
  }
});

test('health+json: the database with its latency, Redis pinged (killed: warn, still ready; back: pass), the event loop and the heap', async () => {
  const redisServer = await startRedis();
  const redis = createRedisClients(redisServer.url);
  await redis.ready();
  const t = await startTestApp({ deps: { redis: redis.client } });
  try {
    const checks = (await t.app.inject('/health')).json().checks;
    assert.equal(checks['database:responseTime'][0].status, 'pass');
    assert.equal(checks['database:responseTime'][0].observedUnit, 'ms');
    assert.equal(checks['database:responseTime'][0].componentType, 'datastore');
    assert.equal(typeof checks['database:responseTime'][0].time, 'string');
    assert.equal(checks['redis:responseTime'][0].status, 'pass');
    assert.equal(checks['eventloop:delay'][0].observedUnit, 'ms');
    assert.equal(checks['memory:utilization'][0].observedUnit, 'percent');

    await redisServer.kill();
    await until(
      async () => (await t.app.inject('/health')).json().checks['redis:responseTime'][0].status === 'warn',
      {
        what: 'the Redis check to warn',
      },
    );
    const degraded = await t.app.inject('/health');
    assert.equal(degraded.statusCode, 200);
    assert.equal(degraded.json().status, 'warn');
    assert.equal((await t.app.inject('/health/ready')).statusCode, 200, 'casebook fails open without Redis');

    await redisServer.start();
    await until(
      async () => (await t.app.inject('/health')).json().checks['redis:responseTime'][0].status === 'pass',
      {
        timeout: 10_000,
        what: 'the Redis check to pass again',
      },
    );
  } finally {
    await t.close();
    await redis.quit();
    await redisServer.stop();
  }
});
