// A registered cache's L2 breaker shows with the app's breakers: an L2 outage and its recovery are visible in
// `/metrics` and `/health`, not only in the cache's stats.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CacheStore, cacheKey, createCache, memoryBus, memoryStore } from '@headroom/core/cache';
import { FakeClock } from '@headroom/core/clock';
import { circuitBreaker } from '@headroom/core/policy';
import Fastify from 'fastify';
import { headroom } from '../src/index.ts';

async function app() {
  const instance = Fastify();
  await instance.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false });
  return instance;
}

/** A memory store whose every method rejects while `down` is set, as Redis refusing connections does. */
function flakyStore(clock: FakeClock): { store: CacheStore; down: boolean } {
  const flaky = { down: true, store: undefined as unknown as CacheStore };
  flaky.store = new Proxy(memoryStore({ clock }), {
    get(target, prop) {
      const value = (target as never)[prop];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        flaky.down
          ? Promise.reject(new Error('ECONNREFUSED'))
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return flaky;
}

const acme = { tenant: 'acme' };

test('an L2 that fails opens the cache:<name>:l2 breaker, and /metrics and /health show it and its recovery', async () => {
  const clock = new FakeClock();
  const server = await app();
  const l2 = flakyStore(clock);
  const cache = server.headroom.caches.add(
    createCache({ name: 'cases', clock, l2: l2.store, bus: memoryBus() }),
  );
  const breakerState = /^headroom_breaker_state\{breaker="cache:cases:l2"\} (\d)$/m;
  assert.equal(breakerState.exec((await server.inject('/metrics')).body)?.[1], '0', 'tracked from the start');

  for (let i = 0; i < 10; i++) assert.equal(await cache.getOrSet(cacheKey(acme, i), () => i), i);
  await cache.whenIdle();
  assert.equal(cache.stats().l2.breaker, 'open');
  let metrics = (await server.inject('/metrics')).body;
  assert.equal(breakerState.exec(metrics)?.[1], '2');
  assert.match(
    metrics,
    /^headroom_breaker_transitions_total\{breaker="cache:cases:l2",from="closed",to="open"\} 1$/m,
  );
  const health = await server.inject('/health');
  assert.equal(health.statusCode, 200, 'the cache answers from L1 and loads: degraded, not down');
  assert.deepEqual(health.json().checks['breaker:cache:cases:l2'], [
    { status: 'warn', output: 'circuit open' },
  ]);

  l2.down = false;
  await clock.tick(1_000); // the default L2 breaker probes again after one second
  assert.equal(await cache.getOrSet(cacheKey(acme, 'probe'), () => 'loaded'), 'loaded');
  await cache.whenIdle();
  metrics = (await server.inject('/metrics')).body;
  assert.equal(breakerState.exec(metrics)?.[1], '0');
  assert.match(
    metrics,
    /^headroom_breaker_transitions_total\{breaker="cache:cases:l2",from="half-open",to="closed"\} 1$/m,
  );
});

test('a cache without L2 or bus shows no breaker; one breaker shared by two caches shows once', async () => {
  const clock = new FakeClock();
  const server = await app();
  server.headroom.caches.add(createCache({ name: 'local', clock }));
  const shared = circuitBreaker({ name: 'redis', clock });
  const l2 = memoryStore({ clock });
  server.headroom.caches.add(createCache({ name: 'cases', clock, l2, l2Breaker: shared }));
  server.headroom.caches.add(createCache({ name: 'people', clock, l2, l2Breaker: shared }));
  const states = (await server.inject('/metrics')).body
    .split('\n')
    .filter((line) => line.startsWith('headroom_breaker_state{'));
  assert.deepEqual(states, ['headroom_breaker_state{breaker="redis"} 0']);
  assert.deepEqual([...server.headroom.protection.breakers.keys()], ['redis']);
});
