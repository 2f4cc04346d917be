import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { createCache } from './cache.ts';
import { type CacheKey, cacheKey, GLOBAL } from './cache-key.ts';
import { bytesEtag } from './entry.ts';
import { isCacheLoadTimeoutError } from './errors.ts';
import { memoryBus } from './memory-bus.ts';
import { memoryStore } from './memory-store.ts';
import type { CacheBus, CacheStore } from './store.ts';

const acme = { tenant: 'acme' };
const beta = { tenant: 'beta' };

/** `store` with some of its methods replaced. */
function storeWith(store: CacheStore, replaced: Partial<CacheStore>): CacheStore {
  return {
    name: store.name,
    get: (k) => store.get(k),
    set: (k, entry, options) => store.set(k, entry, options),
    delete: (keys) => store.delete(keys),
    tagVersions: (tags) => store.tagVersions(tags),
    invalidateTags: (tags) => store.invalidateTags(tags),
    acquireLease: (k, token, ttl) => store.acquireLease(k, token, ttl),
    releaseLease: (k, token) => store.releaseLease(k, token),
    clear: () => store.clear(),
    ...replaced,
  };
}

function counter<T>(make: (n: number) => T | Promise<T>) {
  const loader = Object.assign(
    async () => {
      loader.calls++;
      return make(loader.calls);
    },
    { calls: 0 },
  );
  return loader;
}

test('1,000 concurrent misses in one process make exactly one loader call', async () => {
  const cache = createCache({ clock: new FakeClock() });
  const key = cacheKey(acme, 'case', 1);
  const { promise: gate, resolve } = Promise.withResolvers<void>();
  const load = counter(async () => {
    await gate;
    return { id: 1 };
  });
  const all = Array.from({ length: 1_000 }, () => cache.getOrSet(key, load));
  resolve();
  const values = await Promise.all(all);
  assert.equal(load.calls, 1);
  assert.ok(values.every((v) => v === values[0]));
  assert.equal(cache.stats().loads.joined, 999);
});

test('two instances sharing an L2 and a bus: 2 × 500 concurrent misses make one load in total', async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  const bus = memoryBus();
  const a = createCache({ clock, l2, bus, instanceId: 'a' });
  const b = createCache({ clock, l2, bus, instanceId: 'b' });
  const key = cacheKey(acme, 'case', 7);
  const load = counter(async () => ({ id: 7 }));
  const all = [];
  for (let i = 0; i < 500; i++) all.push(a.getOrSet(key, load), b.getOrSet(key, load));
  const values = await Promise.all(all);
  assert.equal(load.calls, 1);
  assert.ok(values.every((v) => v.id === 7));
  assert.equal(
    a.stats().loads.waitedRemote + b.stats().loads.waitedRemote,
    1,
    'the loser waited for the bus',
  );
});

test('stale-while-revalidate: a hot key serves stale at once and refreshes exactly once per expiry', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock, ttl: 1_000, staleWhileRevalidate: 10_000 });
  const key = cacheKey(acme, 'hot');
  const { promise: gate, resolve } = Promise.withResolvers<void>();
  let gated = false;
  const load = counter(async (n) => {
    if (gated) await gate;
    return n;
  });
  assert.equal(await cache.getOrSet(key, load), 1);
  gated = true;
  clock.advance(1_000);
  const during = await Promise.all(Array.from({ length: 500 }, () => cache.getOrSet(key, load)));
  assert.ok(
    during.every((v) => v === 1),
    'everyone got the stale value without waiting',
  );
  assert.equal(load.calls, 2, 'one refresh, whatever the request rate');
  resolve();
  await cache.whenIdle();
  assert.equal(await cache.getOrSet(key, load), 2);
  gated = false;
  for (let expiry = 3; expiry <= 5; expiry++) {
    clock.advance(1_000);
    await Promise.all(Array.from({ length: 200 }, () => cache.getOrSet(key, load)));
    await cache.whenIdle();
    assert.equal(load.calls, expiry);
    assert.equal(await cache.getOrSet(key, load), expiry);
  }
  assert.equal(cache.stats().loads.refreshes, 4);
});

test('grace: a failing loader serves the stale value, backs off, then is tried again; past grace it fails', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock, ttl: 1_000, grace: 60_000, graceBackoff: 5_000 });
  const key = cacheKey(acme, 'flaky');
  let failing = false;
  const load = counter((n) => {
    if (failing) throw new Error('db down');
    return `v${n}`;
  });
  assert.equal(await cache.getOrSet(key, load), 'v1');
  failing = true;
  clock.advance(1_000);
  assert.equal(await cache.getOrSet(key, load), 'v1', 'stale if error');
  assert.equal(load.calls, 2);
  for (let i = 0; i < 10; i++) assert.equal(await cache.getOrSet(key, load), 'v1');
  clock.advance(4_999);
  assert.equal(await cache.getOrSet(key, load), 'v1');
  assert.equal(load.calls, 2, 'no call while backing off');
  clock.advance(1);
  assert.equal(await cache.getOrSet(key, load), 'v1');
  assert.equal(load.calls, 3, 'tried again after the backoff');
  failing = false;
  clock.advance(5_000);
  assert.equal(await cache.getOrSet(key, load), 'v4', 'recovered');
  failing = true;
  clock.advance(61_000);
  await assert.rejects(cache.getOrSet(key, load), /db down/, 'past grace the error reaches the caller');
  assert.ok(cache.stats().loads.graceServed >= 12);
});

test('negative caching: "not found" is cached for negativeTtl only, and never without it', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock, ttl: 60_000, negativeTtl: 2_000 });
  const key = cacheKey(acme, 'case', 404);
  const load = counter(() => undefined);
  assert.equal(await cache.getOrSet(key, load), undefined);
  assert.equal(await cache.getOrSet(key, load), undefined);
  assert.equal(load.calls, 1);
  const entry = await cache.getOrSetEntry(key, load);
  assert.equal(entry.notFound, true);
  clock.advance(2_000);
  await cache.getOrSet(key, load);
  assert.equal(load.calls, 2);

  const plain = createCache({ clock });
  const nulls = counter(() => null);
  await plain.getOrSet(key, nulls);
  await plain.getOrSet(key, nulls);
  assert.equal(nulls.calls, 2, 'without negativeTtl a not-found is not cached');
});

test('soft timeout: a caller holding a stale value gets it, and the load lands in the background', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock, ttl: 1_000, grace: 60_000 });
  const key = cacheKey(acme, 'slow');
  const { promise: gate, resolve } = Promise.withResolvers<void>();
  let slow = false;
  const load = counter(async (n) => {
    if (slow) await gate;
    return n;
  });
  await cache.getOrSet(key, load);
  slow = true;
  clock.advance(1_000);
  const call = cache.getOrSet(key, load, { timeout: 200 });
  await clock.tick(200);
  assert.equal(await call, 1, 'stale after the soft timeout');
  resolve();
  await cache.whenIdle();
  assert.equal(await cache.getOrSet(key, load), 2, 'the load finished and was stored');
});

test('hard timeout: the loader is aborted and the caller gets HR_CACHE_LOAD_TIMEOUT (or the stale value in grace)', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock, ttl: 1_000, hardTimeout: 300 });
  const key = cacheKey(acme, 'hang');
  let seen: AbortSignal | undefined;
  const hang = ({ signal }: { signal: AbortSignal }) => {
    seen = signal;
    return new Promise<never>(() => {});
  };
  const call = cache.getOrSet(key, hang).catch((e: unknown) => e);
  await clock.tick(300);
  const error = await call;
  assert.ok(isCacheLoadTimeoutError(error) && isHeadroomError(error));
  assert.equal(error.status, 504);
  assert.equal(seen?.aborted, true, 'the loader was told to stop');
  assert.equal(cache.stats().loads.timeouts, 1);

  const graceful = createCache({ clock, ttl: 1_000, grace: 10_000, hardTimeout: 300 });
  await graceful.getOrSet(key, () => 'old');
  clock.advance(1_000);
  const staleCall = graceful.getOrSet(key, hang);
  await clock.tick(300);
  assert.equal(await staleCall, 'old');
});

test('L1 is bounded by entries and by bytes', async () => {
  const clock = new FakeClock();
  const byCount = createCache({ clock, maxEntries: 100 });
  for (let i = 0; i < 250; i++) await byCount.getOrSet(cacheKey(acme, i), () => i);
  assert.equal(byCount.stats().l1.entries, 100);
  assert.equal(byCount.stats().l1.evictions, 150);
  const byBytes = createCache({ clock, maxBytes: 50_000 });
  for (let i = 0; i < 100; i++) await byBytes.getOrSet(cacheKey(acme, i), () => 'x'.repeat(1_000));
  const { bytes, entries } = byBytes.stats().l1;
  assert.ok(bytes <= 50_000 && entries < 50 && entries > 30, `${entries} entries, ${bytes} bytes`);
});

test('tenants cannot reach each other: keys, escaping, tags', async () => {
  assert.notEqual(cacheKey({ tenant: 'a:b' }, 'c'), cacheKey({ tenant: 'a' }, 'b:c'));
  assert.notEqual(cacheKey({ tenant: 'a' }, 'b%3Ac'), cacheKey({ tenant: 'a' }, 'b:c'));
  assert.notEqual(cacheKey(GLOBAL, 'x'), cacheKey({ tenant: 'g' }, 'x'));
  assert.throws(() => cacheKey({ tenant: '' }, 'x'), { code: 'HR_CACHE_INVALID_KEY' });
  assert.throws(() => cacheKey({} as { tenant: string }, 'x'), { code: 'HR_CACHE_INVALID_KEY' });
  assert.throws(() => cacheKey(acme), { code: 'HR_CACHE_INVALID_KEY' });

  const clock = new FakeClock();
  const cache = createCache({ clock });
  const a = await cache.getOrSet(cacheKey(acme, 'case', 1), () => 'acme secret', { tags: ['case:1'] });
  const b = await cache.getOrSet(cacheKey(beta, 'case', 1), () => 'beta data', { tags: ['case:1'] });
  assert.deepEqual([a, b], ['acme secret', 'beta data']);
  await cache.invalidateTags(acme, ['case:1']);
  const reloads = counter(() => 'reloaded');
  assert.equal(
    await cache.getOrSet(cacheKey(beta, 'case', 1), reloads),
    'beta data',
    "beta's case:1 untouched",
  );
  assert.equal(await cache.getOrSet(cacheKey(acme, 'case', 1), reloads), 'reloaded');
  assert.equal(reloads.calls, 1);
  await cache.invalidateTags(GLOBAL, ['case:1']);
  assert.equal(
    await cache.getOrSet(cacheKey(beta, 'case', 1), reloads),
    'beta data',
    'global tags are their own',
  );
});

test('a writer reads its own invalidation; another instance hears it over the bus', async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  const bus = memoryBus();
  const a = createCache({ clock, l2, bus, instanceId: 'a' });
  const b = createCache({ clock, l2, bus, instanceId: 'b' });
  const key = cacheKey(acme, 'case', 3, 'comments');
  let version = 1;
  const load = () => `comments v${version}`;
  assert.equal(await a.getOrSet(key, load, { tags: ['case:3'] }), 'comments v1');
  await a.whenIdle();
  assert.equal(await b.getOrSet(key, load, { tags: ['case:3'] }), 'comments v1');
  version = 2;
  const done = a.invalidateTags(acme, ['case:3']);
  assert.equal(a.peek(key), undefined, "A's L1 refuses the entry before the promise even resolves");
  await done;
  assert.equal(await a.getOrSet(key, load, { tags: ['case:3'] }), 'comments v2');
  await clock.tick(0);
  assert.equal(b.peek(key), undefined, "B's L1 heard the invalidation");
  assert.equal(await b.getOrSet(key, load, { tags: ['case:3'] }), 'comments v2');
  assert.equal(b.stats().bus.received >= 1, true);
});

test('a load that overlaps an invalidation of its tag is returned but not cached', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock });
  const key = cacheKey(acme, 'case', 9);
  const { promise: gate, resolve } = Promise.withResolvers<void>();
  const slowLoad = async () => {
    await gate;
    return 'before edit';
  };
  const first = cache.getOrSet(key, slowLoad, { tags: ['case:9'] });
  await clock.tick(0);
  await cache.invalidateTags(acme, ['case:9']);
  resolve();
  assert.equal(await first, 'before edit');
  assert.equal(await cache.getOrSet(key, () => 'after edit', { tags: ['case:9'] }), 'after edit');
  assert.equal(cache.stats().loads.outdated, 1);
});

test('entries carry their bytes and strong ETag, computed once; a hit hands back the same entry', async () => {
  const cache = createCache({ clock: new FakeClock() });
  const key = cacheKey(acme, 'case', 5);
  const first = await cache.getOrSetEntry(key, () => ({ id: 5, title: 'Fraud' }));
  assert.equal(first.bytes.toString(), '{"id":5,"title":"Fraud"}');
  assert.equal(first.etag, bytesEtag(first.bytes));
  assert.match(first.etag, /^"[A-Za-z0-9_-]{22}"$/);
  assert.equal(await cache.getOrSetEntry(key, () => ({ id: 0 })), first);
});

test('jitter shortens each ttl by the injected random share', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock, ttl: 1_000, jitter: 0.2, random: () => 0.5 });
  const entry = await cache.getOrSetEntry(cacheKey(acme, 'j'), () => 1);
  assert.equal(entry.freshUntil - entry.createdAt, 900);
});

test('bad options throw HR_INVALID_OPTION naming the option', () => {
  for (const [options, option] of [
    [{ ttl: -1 }, 'ttl'],
    [{ jitter: 2 }, 'jitter'],
    [{ maxEntries: 0 }, 'maxEntries'],
    [{ name: 'a b' }, 'name'],
    [{ l2Breaker: {} }, 'l2Breaker'],
  ] as const) {
    assert.throws(
      () => createCache(options as never),
      (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION' && e.context.option === option,
    );
  }
});

test('fail-open: an L2 that throws never reaches the caller; the breaker opens and errors are counted', async () => {
  const clock = new FakeClock();
  const broken: CacheStore = new Proxy(memoryStore({ clock }), {
    get(target, prop) {
      if (prop === 'name') return 'broken';
      return typeof (target as never)[prop] === 'function'
        ? () => Promise.reject(new Error('ECONNREFUSED'))
        : (target as never)[prop];
    },
  });
  const cache = createCache({ clock, l2: broken, bus: memoryBus() });
  let errors = 0;
  cache.onError(() => errors++);
  for (let i = 0; i < 50; i++) assert.equal(await cache.getOrSet(cacheKey(acme, i), () => i), i);
  await cache.whenIdle();
  const { l2 } = cache.stats();
  assert.ok(l2.errors >= 5, `errors ${l2.errors}`);
  assert.ok(l2.rejected > 0, 'the breaker opened and refused calls');
  assert.equal(l2.breaker, 'open');
  assert.equal(errors, l2.errors + l2.rejected);
});

test('a bus that reconnects makes the instance drop its L1 (it may have missed invalidations)', async () => {
  const clock = new FakeClock();
  const bus = memoryBus();
  const cache = createCache({ clock, l2: memoryStore({ clock }), bus });
  const key = cacheKey(acme, 'r');
  await cache.getOrSet(key, () => 1);
  assert.equal(cache.peek(key), 1);
  bus.setHealthy(false);
  bus.setHealthy(true);
  assert.equal(cache.peek(key), undefined);
  assert.equal(cache.stats().bus.reconnects, 1);
});

test('peekEntry answers a fresh L1 entry with its bytes and ETag, synchronously, and counts the hit', async () => {
  const clock = new FakeClock();
  const cache = createCache({ clock });
  const key = cacheKey(acme, 'page', 1);
  const results: string[] = [];
  cache.onRequest((e) => results.push(`${e.tier}:${e.result}`));
  assert.equal(cache.peekEntry(key), undefined, 'nothing yet, and a miss counts nothing');
  const loaded = await cache.getOrSetEntry(key, () => ({ id: 1 }), { ttl: 1_000 });
  const hit = cache.peekEntry<{ id: number }>(key);
  assert.equal(hit, loaded, 'the very entry a read would answer');
  assert.equal(hit?.bytes.toString(), '{"id":1}');
  assert.equal(hit?.etag, bytesEtag(hit!.bytes));
  assert.equal(cache.peekEntry(cacheKey(beta, 'page', 1)), undefined, 'another tenant finds nothing');
  clock.advance(1_000);
  assert.equal(cache.peekEntry(key), undefined, 'a stale entry is not a peek hit');
  assert.deepEqual(results, ['l1:miss', 'l1:hit']);
});

test('a lease won after another instance already stored the value: the value is read from L2, not loaded again', async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  const bus = memoryBus();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  // B's lease request is held back until A has loaded and stored: the window a slow process sees under load.
  const slowLease = storeWith(l2, {
    async acquireLease(k, token, ttl) {
      await gate;
      return l2.acquireLease(k, token, ttl);
    },
  });
  const a = createCache({ clock, l2, bus, instanceId: 'a' });
  const b = createCache({ clock, l2: slowLease, bus, instanceId: 'b' });
  const key = cacheKey(acme, 'case', 9);
  const loadA = counter(async () => ({ id: 9, by: 'a' }));
  const loadB = counter(async () => ({ id: 9, by: 'b' }));
  const fromB = b.getOrSet(key, loadB);
  assert.deepEqual(await a.getOrSet(key, loadA), { id: 9, by: 'a' });
  await a.whenIdle();
  open();
  assert.deepEqual(await fromB, { id: 9, by: 'a' });
  assert.equal(loadA.calls + loadB.calls, 1);
});

/** Resolves after the promise chains now queued have run (memory store and bus answer in microtasks). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A holds `key`'s lease with a load held back until `finishA()`; B waits on it. */
async function holderAndWaiter(
  a: ReturnType<typeof createCache>,
  b: ReturnType<typeof createCache>,
  key: CacheKey,
) {
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const loadA = counter(async () => {
    await gate;
    return { by: 'a' };
  });
  const loadB = counter(async () => ({ by: 'b' }));
  const fromA = a.getOrSet(key, loadA);
  await settle();
  const race: { fromB: { by: string } | undefined } & Record<string, unknown> = { fromB: undefined };
  const waiting = b.getOrSet(key, loadB).then((v) => {
    race.fromB = v;
  });
  await settle();
  return Object.assign(race, {
    loadA,
    loadB,
    waiting,
    async finishA() {
      open();
      const value = await fromA;
      await a.whenIdle();
      return value;
    },
  });
}

test("the holder's write times out after it landed: the lease is given back and the waiter reads, not loads", async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  const bus = memoryBus();
  // What ioredis does on a busy event loop: the command ran in Redis, the client's commandTimeout fired first.
  const lateStore = storeWith(l2, {
    async set(k, entry, options) {
      await l2.set(k, entry, options);
      throw new Error('Command timed out');
    },
  });
  const a = createCache({ clock, l2: lateStore, bus, instanceId: 'a' });
  const b = createCache({ clock, l2, bus, instanceId: 'b' });
  const key = cacheKey(acme, 'case', 11);
  const race = await holderAndWaiter(a, b, key);
  assert.equal(b.stats().loads.waitedRemote, 1, 'B waits on A');
  assert.deepEqual(await race.finishA(), { by: 'a' });
  await settle();
  assert.deepEqual(race.fromB, { by: 'a' }, 'B answered without the clock moving');
  await race.waiting;
  assert.equal(race.loadA.calls + race.loadB.calls, 1);
});

test('a notice that never comes costs the waiter one recheck (500 ms), not the whole lease', async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  const bus = memoryBus();
  const deaf: CacheBus = {
    get healthy() {
      return bus.healthy;
    },
    publish: async () => {}, // lost on the way
    subscribe: (listener) => bus.subscribe(listener),
    onReconnect: (listener) => bus.onReconnect(listener),
    close: () => bus.close(),
  };
  const a = createCache({ clock, l2, bus: deaf, instanceId: 'a' });
  const b = createCache({ clock, l2, bus, instanceId: 'b' });
  const key = cacheKey(acme, 'case', 12);
  const race = await holderAndWaiter(a, b, key);
  await race.finishA();
  clock.advance(499);
  await settle();
  assert.equal(race.fromB, undefined, 'no notice: B is still waiting');
  clock.advance(1);
  await settle();
  assert.deepEqual(race.fromB, { by: 'a' }, "B's recheck found A's entry in L2");
  await race.waiting;
  assert.equal(race.loadB.calls, 0);
  assert.equal(b.stats().loads.waitedRemote, 1, 'one wait, however many rechecks');
});

test('a holder that never finishes: the waiter loads itself once the lease time is up, rechecking meanwhile', async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  let leaseTries = 0;
  const counted = storeWith(l2, {
    acquireLease: (k, token, ttl) => {
      leaseTries++;
      return l2.acquireLease(k, token, ttl);
    },
  });
  const b = createCache({ clock, l2: counted, bus: memoryBus(), instanceId: 'b', leaseTtl: 2_000 });
  const key = cacheKey(acme, 'case', 13);
  assert.equal(await l2.acquireLease(`cache|${key}`, 'gone', 60_000), true);
  const loadB = counter(async () => ({ by: 'b' }));
  let fromB: { by: string } | undefined;
  const waiting = b.getOrSet(key, loadB).then((v) => (fromB = v));
  for (let t = 500; t < 2_000; t += 500) {
    await clock.tick(500);
    assert.equal(fromB, undefined, `still waiting at ${t} ms`);
  }
  await clock.tick(500);
  assert.deepEqual(fromB, { by: 'b' });
  await waiting;
  assert.equal(loadB.calls, 1);
  assert.equal(leaseTries, 4, 'one try at the start and one per recheck: 500, 1,000 and 1,500 ms');
});

test('set on a cache without L2 writes L1 only and counts no L2 error', async () => {
  const cache = createCache({ clock: new FakeClock() });
  const errors: string[] = [];
  cache.onError((e) => errors.push(e.operation));
  const key = cacheKey(acme, 'set', 1);
  await cache.set(key, { id: 1 });
  assert.deepEqual(cache.peek(key), { id: 1 });
  assert.deepEqual(errors, []);
  assert.equal(cache.stats().l2.errors, 0);
});

test('the default L2 breaker probes every second however long L2 was down, so it serves again within a second', async () => {
  const clock = new FakeClock();
  const l2 = memoryStore({ clock });
  let down = true;
  const flaky = storeWith(l2, {
    get: (k) => (down ? Promise.reject(new Error('ECONNREFUSED')) : l2.get(k)),
  });
  const cache = createCache({ clock, l2: flaky, instanceId: 'a' });
  for (let i = 0; i < 10; i++) await cache.getOrSet(cacheKey(acme, 'warm', i), () => i);
  assert.equal(cache.stats().l2.breaker, 'open');
  for (let s = 0; s < 60; s++) {
    await clock.tick(1_000);
    await cache.getOrSet(cacheKey(acme, 'down', s), () => s); // a probe fails, the breaker opens again
  }
  down = false;
  await clock.tick(1_000);
  await cache.getOrSet(cacheKey(acme, 'back'), () => 'x');
  assert.equal(cache.stats().l2.breaker, 'closed', 'one second after L2 healed, after a minute down');
});
