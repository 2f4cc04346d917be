// The cache on a real redis-server: the store contract, distributed singleflight across instances and across a real
// second process, the invalidation bus and its lag, and fail-open while Redis is killed, paused and restarted.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startRedis } from '@headroom/dev-servers/redis';
import { until } from '@headroom/dev-servers/until';
import { Redis } from 'ioredis';
import { cacheBusContract } from '../src/cache/bus-contract.ts';
import { cacheKey, createCache } from '../src/cache/index.ts';
import { createRedisClients, redisBus, redisStore } from '../src/cache/redis/index.ts';
import { cacheStoreContract } from '../src/cache/store-contract.ts';

const redis = await startRedis();
const opened: { quit(): Promise<unknown> }[] = [];
after(async () => {
  for (const c of opened) await c.quit();
  await redis.stop();
});

function clients() {
  const pair = createRedisClients(redis.url);
  opened.push(pair);
  return pair;
}

let prefixes = 0;
const nextPrefix = () => `t${process.pid}-${++prefixes}:`;

cacheBusContract('redisBus', async () => {
  // Two instances, each with its own connections, on a channel of their own.
  const channel = `hr:test:bus:${nextPrefix()}`;
  const [one, two] = [clients(), clients()];
  const a = redisBus({ ...one, channel });
  const b = redisBus({ ...two, channel });
  await Promise.all([one.ready(), two.ready(), a.ready, b.ready]);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

const shared = clients();
await shared.ready();
cacheStoreContract('redisStore', (clock) =>
  redisStore({ client: shared.client, prefix: nextPrefix(), clock }),
);

test('a bus closed before its subscription completes stays closed: healthy false once the subscription lands', async () => {
  const pair = clients();
  const bus = redisBus({ ...pair, channel: `hr:test:bus:${nextPrefix()}` });
  await bus.close(); // the SUBSCRIBE is still on its way (and the connection's own 'ready' may follow)
  await Promise.all([bus.ready.catch(() => {}), pair.ready()]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(bus.healthy, false);
});

test('redisStore refuses a client without a bounded commandTimeout', () => {
  const bare = new Redis(redis.url, { lazyConnect: true });
  assert.throws(() => redisStore({ client: bare }), { code: 'HR_INVALID_OPTION' });
  bare.disconnect();
});

async function instance(prefix: string, id: string, extra: Parameters<typeof createCache>[0] = {}) {
  const pair = clients();
  const bus = redisBus(pair);
  await Promise.all([bus.ready, pair.ready()]);
  const cache = createCache({
    name: 'cases',
    instanceId: id,
    l2: redisStore({ client: pair.client, prefix }),
    bus,
    ...extra,
  });
  return { cache, bus, pair };
}

describe('two instances on one Redis', () => {
  test('2 × 500 concurrent misses make exactly one load in total; the loser is woken by the bus', async () => {
    const prefix = nextPrefix();
    const a = await instance(prefix, 'a');
    const b = await instance(prefix, 'b');
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 50)); // a database query's latency
      return { id: 1, title: 'shared' };
    };
    const key = cacheKey({ tenant: 'acme' }, 'case', 1);
    const all = [];
    for (let i = 0; i < 500; i++) all.push(a.cache.getOrSet(key, load), b.cache.getOrSet(key, load));
    const values = await Promise.all(all);
    assert.equal(loads, 1);
    assert.ok(values.every((v) => v.title === 'shared'));
    assert.equal(a.cache.stats().loads.waitedRemote + b.cache.stats().loads.waitedRemote, 1);
    await Promise.all([a.cache.close(), b.cache.close(), a.bus.close(), b.bus.close()]);
  });

  test("tag invalidation on A reaches B's L1 through the bus within 100 ms, and B reloads", async () => {
    const prefix = nextPrefix();
    const a = await instance(prefix, 'a');
    const b = await instance(prefix, 'b');
    const key = cacheKey({ tenant: 'acme' }, 'case', 2, 'comments');
    const other = cacheKey({ tenant: 'beta' }, 'case', 2, 'comments');
    let version = 1;
    const load = () => ({ version });
    const tags = ['case:2'];
    await a.cache.getOrSet(key, load, { tags });
    await a.cache.whenIdle();
    assert.equal((await b.cache.getOrSet(key, load, { tags })).version, 1);
    await b.cache.getOrSet(other, load, { tags });
    assert.equal(b.cache.peek(key), b.cache.peek(key) ?? 'missing', 'B holds it in L1');
    version = 2;
    const heard = new Promise<number>((resolve) => {
      const sub = b.cache.onBusMessage((e) => {
        if (e.type === 'tags') {
          sub.dispose();
          resolve(e.lagMs);
        }
      });
    });
    const started = performance.now();
    await a.cache.invalidateTags({ tenant: 'acme' }, tags);
    const lag = await heard;
    const endToEnd = performance.now() - started;
    assert.ok(lag <= 100, `bus lag ${lag} ms`);
    assert.ok(endToEnd <= 100, `invalidate → B heard it: ${endToEnd.toFixed(1)} ms`);
    assert.equal(b.cache.peek(key), undefined, "B's L1 refuses the invalidated entry");
    assert.deepEqual(b.cache.peek(other), { version: 1 }, "beta's entry with the same tag name is untouched");
    assert.equal((await b.cache.getOrSet(key, load, { tags })).version, 2);
    assert.equal(b.cache.stats().bus.lastLagMs, lag);
    console.log(`# bus lag ${lag} ms (wall clocks), invalidate→heard ${endToEnd.toFixed(2)} ms`);
    await Promise.all([a.cache.close(), b.cache.close(), a.bus.close(), b.bus.close()]);
  });
});

test('a real second process: 2 processes × 500 concurrent misses make exactly one load', async () => {
  const prefix = nextPrefix();
  const root = join(import.meta.dirname, '..', 'src', 'cache');
  const worker = `
    import { once } from 'node:events';
    import { cacheKey, createCache } from ${JSON.stringify(join(root, 'index.ts'))};
    import { createRedisClients, redisBus, redisStore } from ${JSON.stringify(join(root, 'redis', 'index.ts'))};
    const pair = createRedisClients(${JSON.stringify(redis.url)});
    const bus = redisBus(pair);
    await Promise.all([bus.ready, pair.ready()]);
    const cache = createCache({ name: 'xproc', instanceId: 'child', l2: redisStore({ client: pair.client, prefix: ${JSON.stringify(prefix)} }), bus });
    const load = async () => {
      await pair.client.incr(${JSON.stringify(`${prefix}loads`)});
      await new Promise((r) => setTimeout(r, 100));
      return { from: 'child' };
    };
    process.stdout.write('ready\\n');
    await once(process.stdin, 'data');
    process.stdin.destroy();
    const key = cacheKey({ tenant: 'acme' }, 'report', 1);
    const values = await Promise.all(Array.from({ length: 500 }, () => cache.getOrSet(key, load)));
    process.stdout.write(JSON.stringify({ values: new Set(values.map((v) => v.from)).size, from: values[0].from }) + '\\n');
    await cache.close(); await bus.close(); await pair.quit();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', worker], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  await until(() => out.includes('ready\n'), { timeout: 10_000, what: 'the child to subscribe' });
  const parent = await instance(prefix, 'parent', { name: 'xproc' });
  const load = async () => {
    await parent.pair.client.incr(`${prefix}loads`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { from: 'parent' };
  };
  const key = cacheKey({ tenant: 'acme' }, 'report', 1);
  child.stdin.end('go\n');
  const values = await Promise.all(Array.from({ length: 500 }, () => parent.cache.getOrSet(key, load)));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  const reported = JSON.parse(out.split('\n')[1]!) as { values: number; from: string };
  assert.equal(Number(await shared.client.get(`${prefix}loads`)), 1, 'one load across both processes');
  assert.equal(reported.values, 1);
  assert.equal(reported.from, values[0]!.from, 'both processes got the one loaded value');
  await parent.cache.close();
  await parent.bus.close();
});

test('Redis killed during a getOrSet loop: no error reaches the caller; restarted: L2 is used again, no restart', async () => {
  const prefix = nextPrefix();
  // A small L1, so most reads need L2; two instances, so one's loads are the other's L2 hits.
  const a = await instance(prefix, 'a', { maxEntries: 4, ttl: 60_000 });
  const b = await instance(prefix, 'b', { maxEntries: 4, ttl: 60_000 });
  let errors = 0;
  let calls = 0;
  let stop = false;
  const loop = (async () => {
    for (let i = 0; !stop; i++) {
      const cache = i % 2 === 0 ? a.cache : b.cache;
      const key = cacheKey({ tenant: 'acme' }, 'case', i % 40);
      try {
        const value = await cache.getOrSet(key, () => ({ n: i % 40 }));
        assert.equal(value.n, i % 40);
      } catch {
        errors++;
      }
      calls++;
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  await until(() => a.cache.stats().requests.l2.hit > 20, {
    timeout: 5_000,
    what: 'L2 hits before the kill',
  });
  await redis.kill();
  const callsAtKill = calls;
  await until(() => calls > callsAtKill + 2_000, { timeout: 10_000, what: 'calls while Redis is down' });
  assert.equal(a.cache.stats().l2.breaker, 'open', 'the breaker opened');
  const hitsBefore = a.cache.stats().requests.l2.hit + b.cache.stats().requests.l2.hit;
  await redis.start();
  await until(() => a.cache.stats().requests.l2.hit + b.cache.stats().requests.l2.hit > hitsBefore + 20, {
    timeout: 10_000,
    what: 'L2 hits after the restart',
  });
  stop = true;
  await loop;
  const stats = a.cache.stats();
  assert.equal(errors, 0, 'no error reached a caller');
  assert.ok(stats.l2.errors > 0, 'L2 failures were counted');
  assert.equal(stats.l2.breaker, 'closed', 'the breaker closed again');
  // Both subscriptions back (B's too: it is B that must hear), each reconnect seen by its cache.
  await until(
    () =>
      a.bus.healthy &&
      b.bus.healthy &&
      a.cache.stats().bus.reconnects >= 1 &&
      b.cache.stats().bus.reconnects >= 1,
    { timeout: 10_000, what: 'both buses to resubscribe' },
  );
  // The resubscribed bus carries messages again (bounded: a lost message fails the test, never hangs it).
  let heard = false;
  const sub = b.cache.onBusMessage(() => {
    heard = true;
  });
  await until(
    async () => {
      await a.cache.invalidateTags({ tenant: 'acme' }, ['anything']);
      return heard;
    },
    { timeout: 10_000, interval: 200, what: "B to hear A's invalidation" },
  );
  sub.dispose();
  console.log(
    `# ${calls} calls, 0 errors; l2 errors ${stats.l2.errors}, rejected by the breaker ${stats.l2.rejected}, reconnects ${stats.bus.reconnects}`,
  );
  await Promise.all([a.cache.close(), b.cache.close(), a.bus.close(), b.bus.close()]);
});

test('a paused (hung) Redis costs each call at most the command timeout, and no error', async () => {
  const prefix = nextPrefix();
  const a = await instance(prefix, 'a');
  await a.cache.getOrSet(cacheKey({ tenant: 'acme' }, 'warm'), () => 1);
  const admin = new Redis(redis.url);
  opened.push(admin);
  await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
  const started = performance.now();
  const values = await Promise.all(
    Array.from({ length: 50 }, (_, i) => a.cache.getOrSet(cacheKey({ tenant: 'acme' }, 'p', i), () => i)),
  );
  const took = performance.now() - started;
  assert.deepEqual(
    values,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.ok(took < 1_000, `answered in ${took.toFixed(0)} ms while Redis hung for 1500 ms`);
  assert.ok(a.cache.stats().l2.errors > 0);
  await admin.call('CLIENT', 'UNPAUSE');
  await Promise.all([a.cache.close(), a.bus.close()]);
});
