// The rate limiter against a real redis-server: the store contract, limits shared by two instances, and the
// insurance fallback when Redis dies, comes back, or hangs.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { startRedis } from '@headroom/dev-servers/redis';
import { until } from '@headroom/dev-servers/until';
import { Redis, type RedisOptions } from 'ioredis';
import { FakeClock } from '../src/clock/index.ts';
import {
  createRateLimiter,
  type DecisionSource,
  type RateLimitFallbackEvent,
  rateLimitKey,
} from '../src/ratelimit/index.ts';
import { MemoryRateLimitStore } from '../src/ratelimit/memory-store.ts';
import { RedisRateLimitStore } from '../src/ratelimit/redis/index.ts';
import { rateLimitStoreContract } from '../src/ratelimit/store-contract.ts';

const server = await startRedis();
const chaos = await startRedis(); // killed, restarted and paused by the tests below
const clients: Redis[] = [];
after(async () => {
  for (const client of clients) client.disconnect();
  await Promise.all([server.stop(), chaos.stop()]);
});

// The options the redis store recommends: fail fast instead of queueing while Redis is away.
const recommended: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 500,
  retryStrategy: () => 20,
};

async function connect(url: string): Promise<Redis> {
  const client = new Redis(url, { ...recommended, lazyConnect: true });
  client.on('error', () => {}); // connection errors surface as failed commands; the limiter counts them
  clients.push(client);
  await client.connect();
  return client;
}

const shared = await connect(server.url);
rateLimitStoreContract('redis store', () => new RedisRateLimitStore(shared));

test('one key per decision, holding the TAT with a PX expiry; works again after SCRIPT FLUSH', async () => {
  const store = new RedisRateLimitStore(shared, { prefix: 'ttl:' });
  const key = `k/${randomUUID()}`;
  const now = Date.now();
  const d = await store.decide(key, { emissionIntervalMs: 1000, burst: 10 }, now, 3);
  assert.equal(d.resetMs, 3000);
  assert.deepEqual(await shared.keys(`ttl:${key}*`), [`ttl:${key}`]);
  const pttl = await shared.pttl(`ttl:${key}`);
  assert.ok(pttl > 2900 && pttl <= 3000, `pttl ${pttl}`);
  assert.equal(Number(await shared.get(`ttl:${key}`)), now + 3000);
  await shared.script('FLUSH');
  assert.equal((await store.decide(key, { emissionIntervalMs: 1000, burst: 10 }, now, 0)).remaining, 7);
});

test('the decisions of one turn go to Redis as one call, decided in order, as the memory store decides them', async () => {
  const client = await connect(server.url);
  const batched = new RedisRateLimitStore(client, { prefix: 'batch:' });
  const alone = new RedisRateLimitStore(client, { prefix: 'alone:', maxBatch: 1 });
  const memory = new MemoryRateLimitStore();
  const params = { emissionIntervalMs: 1000, burst: 5 };
  const calls = async () => {
    const stats = await client.info('commandstats');
    return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  };
  const key = `k/${randomUUID()}`;
  const now = Date.now();
  await batched.decide(`warm-${key}`, params, now, 1); // loads the scripts (EVALSHA, NOSCRIPT, EVAL)
  await alone.decide(`warm-${key}`, params, now, 1);
  const before = await calls();
  // Eight callers in one turn: on one key with a burst of 5, and on three keys of their own.
  const keys = [key, key, 'x', key, key, 'y', key, key, key, 'z', key].map((k) =>
    k === key ? k : `${k}-${key}`,
  );
  const together = await Promise.all(keys.map((k) => batched.decide(k, params, now, 1)));
  const afterBatch = await calls();
  assert.equal(afterBatch - before, 1, 'one script call for the whole turn');
  const expected = await Promise.all(keys.map((k) => memory.decide(k, params, now, 1)));
  assert.deepEqual(
    together,
    expected.map(({ allowed, remaining, resetMs, retryAfterMs }) => ({
      allowed,
      remaining,
      resetMs,
      retryAfterMs,
    })),
  );
  assert.deepEqual(
    together.filter((_, i) => keys[i] === key).map((d) => d.allowed),
    [true, true, true, true, true, false, false, false],
  );
  await Promise.all(keys.map((k) => alone.decide(`${k}!`, params, now, 1)));
  assert.equal((await calls()) - afterBatch, keys.length, 'maxBatch: 1 sends each decision alone');
});

test('a failed batch fails each of its decisions, and the next turn is a new batch', async () => {
  const client = await connect(chaos.url);
  const store = new RedisRateLimitStore(client, { prefix: 'fail:' });
  const params = { emissionIntervalMs: 1000, burst: 5 };
  await store.decide('warm', params, Date.now(), 1);
  client.disconnect(); // with no offline queue, commands fail at once
  const failed = await Promise.allSettled([1, 2, 3].map((i) => store.decide(`k${i}`, params, Date.now(), 1)));
  assert.deepEqual(
    failed.map((r) => r.status),
    ['rejected', 'rejected', 'rejected'],
  );
  await until(() => client.status === 'end', { what: 'the client to finish closing' });
  await client.connect();
  const again = await Promise.all([1, 2].map((i) => store.decide(`k${i}`, params, Date.now(), 1)));
  assert.deepEqual(
    again.map((d) => d.allowed),
    [true, true],
  );
});

test("time: 'server' decides on Redis TIME", async () => {
  const store = new RedisRateLimitStore(shared, { time: 'server' });
  const key = `k/${randomUUID()}`;
  const params = { emissionIntervalMs: 60_000, burst: 3 };
  for (let i = 0; i < 3; i++) assert.equal((await store.decide(key, params, 0, 1)).allowed, true);
  const limited = await store.decide(key, params, 0, 1);
  assert.equal(limited.allowed, false);
  assert.ok(limited.retryAfterMs > 59_000 && limited.retryAfterMs <= 60_000);
});

test('two limiter instances on one Redis share the limit', async () => {
  const clock = new FakeClock();
  const policies = [{ name: 'pro', limit: 600, window: 60_000, burst: 10 }];
  const [a, b] = await Promise.all([connect(server.url), connect(server.url)]);
  const one = createRateLimiter({ clock, store: new RedisRateLimitStore(a), policies });
  const two = createRateLimiter({ clock, store: new RedisRateLimitStore(b), policies });
  const key = rateLimitKey({ tenant: `shared-${randomUUID()}` }, 'search');
  let allowed = 0;
  for (let i = 0; i < 15; i++) {
    if ((await one.check(key, 'pro')).allowed) allowed++;
    if ((await two.check(key, 'pro')).allowed) allowed++;
  }
  assert.equal(allowed, 10, 'exactly one burst between them');
  clock.advance(100);
  const results = await Promise.all([one.check(key, 'pro'), two.check(key, 'pro')]);
  assert.equal(results.filter((d) => d.allowed).length, 1, 'one refilled cell, granted once');
  assert.equal(one.stats.fallbackDecisions + two.stats.fallbackDecisions, 0);
});

/** Runs `workers` loops of checks until stopped; counts what a caller would see. */
function hammer(limiter: ReturnType<typeof createRateLimiter>, workers: number) {
  const seen = {
    decisions: 0,
    throws: 0,
    bySource: { store: 0, insurance: 0 } as Record<DecisionSource, number>,
  };
  let running = true;
  limiter.onDecision((e) => {
    seen.bySource[e.source]++;
  });
  const loops = Array.from({ length: workers }, async (_, w) => {
    let i = 0;
    while (running) {
      const key = rateLimitKey({ tenant: `t${w}-${i++ % 500}` }, 'search');
      try {
        await limiter.check(key, 'pro');
        seen.decisions++;
      } catch {
        seen.throws++;
      }
      // Let I/O (the reconnection) progress even when every decision is local and synchronous.
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  });
  return {
    seen,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('redis-server killed while deciding: no throws, local decisions counted; restarted: Redis decides again', async () => {
  const client = await connect(chaos.url);
  const limiter = createRateLimiter({
    store: new RedisRateLimitStore(client),
    policies: [{ name: 'pro', limit: 6000, window: 60_000 }],
    storeCooldown: 100,
    insuranceDivisor: 2,
  });
  const reasons = new Set<RateLimitFallbackEvent['reason']>();
  let recovered = 0;
  limiter.onFallback((e) => reasons.add(e.reason));
  limiter.onRecover(() => recovered++);
  const run = hammer(limiter, 16);
  try {
    await until(() => run.seen.bySource.store > 200, { timeout: 5000, what: 'Redis decisions' });
    const closed = new Promise((resolve) => client.once('close', resolve));
    await chaos.kill();
    await closed;
    const atKill = run.seen.decisions;
    await until(() => run.seen.decisions > atKill + 1000, {
      timeout: 5000,
      what: 'decisions while Redis is down',
    });
    assert.equal(limiter.stats.circuit, 'open');
    assert.ok(limiter.stats.fallbackDecisions > 1000);
    assert.ok(reasons.has('error') && reasons.has('circuit-open'), [...reasons].join());

    const storeBefore = limiter.stats.storeDecisions;
    await chaos.start();
    await until(() => limiter.stats.storeDecisions > storeBefore + 100, {
      timeout: 10_000,
      what: 'Redis decisions after restart',
    });
    assert.ok(recovered >= 1, 'onRecover fired');
    assert.equal(limiter.stats.circuit, 'closed');
  } finally {
    await run.stop();
  }
  assert.equal(run.seen.throws, 0);
  assert.equal(limiter.stats.decisions, run.seen.decisions);
});

test('a hung Redis (CLIENT PAUSE): each decision within the store timeout, from insurance; then back to Redis', async () => {
  if (!chaos.running) await chaos.start();
  const client = await connect(chaos.url);
  const admin = await connect(chaos.url);
  const limiter = createRateLimiter({
    store: new RedisRateLimitStore(client),
    policies: [{ name: 'pro', limit: 600, window: 60_000 }],
    storeTimeout: 50,
    storeCooldown: 100,
  });
  const sources: DecisionSource[] = [];
  limiter.onDecision((e) => sources.push(e.source));
  const key = rateLimitKey({ tenant: `hung-${randomUUID()}` }, 'search');
  await limiter.check(key, 'pro');
  assert.deepEqual(sources, ['store']);

  await admin.call('CLIENT', 'PAUSE', '600', 'ALL');
  const started = performance.now();
  const decision = await limiter.check(key, 'pro');
  const took = performance.now() - started;
  assert.equal(decision.allowed, true);
  // Waited for the 50 ms store timeout, then decided locally at once (slack for a busy test machine).
  assert.ok(took >= 49 && took < 50 + 100, `decided in ${took.toFixed(1)} ms`);
  assert.equal(limiter.stats.storeTimeouts, 1);
  assert.equal(sources.at(-1), 'insurance');
  const fast = performance.now();
  await limiter.check(key, 'pro');
  assert.ok(performance.now() - fast < 10, 'while the circuit is open the store is not even asked');

  for (const deadline = performance.now() + 5000; performance.now() < deadline; ) {
    await limiter.check(key, 'pro');
    if (sources.at(-1) === 'store') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(sources.at(-1), 'store', 'Redis decides again once the pause ends');
});
