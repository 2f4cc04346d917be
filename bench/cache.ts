// Cache hot paths against named peers, in the same run:
//  (a) L1 hit: our getOrSet (awaited, as callers use it) vs bentocache's getOrSet on its fastest L1 (memory driver,
//      serialize: false). Goal: >= 1.5x.
//  (b) L2 read: our Redis store's get vs a raw ioredis GET of the same bytes, same redis-server, same concurrency.
//      Goal: overhead <= 20%.
//
//   npm run bench:cache                 # 10 s in all
//   BENCH_SECONDS=30 npm run bench:cache

import { startRedis } from '@headroom/dev-servers/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { bytesEtag } from '../packages/core/src/cache/entry.ts';
import { cacheKey, createCache } from '../packages/core/src/cache/index.ts';
import { createRedisClients, redisStore } from '../packages/core/src/cache/redis/index.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = 6; // alternating, so drift and GC hit both sides alike
const keys = 1_000;
const concurrency = 32;
const value = {
  id: 42,
  title: 'Suspicious wire transfers',
  status: 'open',
  owner: { id: 7, name: 'Ada' },
  tags: ['fraud', 'wire', 'q3'],
};

type Run = () => Promise<number>; // operations done in the slice

// Runs `op` for `ms` with `workers` loops awaiting one call at a time; returns operations per second.
async function measure(ms: number, workers: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let count = 0;
  const end = performance.now() + ms;
  const worker = async (w: number) => {
    let i = w;
    while (performance.now() < end) {
      for (let batch = 0; batch < 64; batch++) {
        await op(i);
        i += workers;
      }
      count += 64;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return count / ((performance.now() - started) / 1_000);
}

async function compare(ours: Run, theirs: Run): Promise<{ ours: number; theirs: number }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      a.push(await ours());
      b.push(await theirs());
    } else {
      b.push(await theirs());
      a.push(await ours());
    }
  }
  const median = (xs: number[]) => xs.toSorted((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return { ours: median(a), theirs: median(b) };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const slice = (seconds * 1_000) / 2 / rounds / 2; // half the time for (a), half for (b); two sides per round

// (a) L1 hits -----------------------------------------------------------------------------------------------------
const cache = createCache({ name: 'bench', ttl: 3_600_000, maxEntries: 10_000 });
const ourKeys = Array.from({ length: keys }, (_, i) => cacheKey({ tenant: 'acme' }, 'case', i));
const load = () => value;
for (const key of ourKeys) await cache.getOrSet(key, load);

const bento = new BentoCache({
  default: 'memory',
  stores: { memory: bentostore().useL1Layer(memoryDriver({ serialize: false, maxItems: 10_000 })) },
});
const bentoKeys = Array.from({ length: keys }, (_, i) => `acme:case:${i}`);
const factory = () => value;
for (const key of bentoKeys) await bento.getOrSet({ key, factory, ttl: '1h' });

const l1 = await compare(
  () => measure(slice, 1, (i) => cache.getOrSet(ourKeys[i % keys]!, load)),
  () => measure(slice, 1, (i) => bento.getOrSet({ key: bentoKeys[i % keys]!, factory, ttl: '1h' })),
);
const l1Hits = cache.stats().requests.l1.hit;
await bento.disconnectAll();

// (b) L2 reads ----------------------------------------------------------------------------------------------------
const redis = await startRedis();
const pair = createRedisClients(redis.url);
await pair.ready();
const store = redisStore({ client: pair.client, prefix: 'bench:' });
const bytes = Buffer.from(JSON.stringify({ ...value, body: 'x'.repeat(800) }));
const now = Date.now();
const entry = {
  bytes,
  etag: bytesEtag(bytes),
  createdAt: now,
  freshUntil: now + 3_600_000,
  swrUntil: now + 3_600_000,
  graceUntil: now + 3_600_000,
  notFound: false,
  tags: [],
  tagVersions: [],
};
const storeKeys = Array.from({ length: 100 }, (_, i) => `bench|t:acme:case:${i}`);
for (const key of storeKeys) {
  await store.set(key, entry);
  await pair.client.set(`raw:${key}`, bytes);
}
const l2 = await compare(
  () => measure(slice, concurrency, (i) => store.get(storeKeys[i % 100]!)),
  () => measure(slice, concurrency, (i) => pair.client.getBuffer(`raw:${storeKeys[i % 100]!}`)),
);
await pair.quit();
await redis.stop();

// Report ----------------------------------------------------------------------------------------------------------
const rows = [
  [
    'L1 hit, getOrSet awaited (1 caller)',
    fmt(l1.ours),
    'bentocache L1 (memory, serialize: false)',
    fmt(l1.theirs),
    `${(l1.ours / l1.theirs).toFixed(2)}x`,
    '>= 1.5x',
  ],
  [
    `L2 get, ${bytes.length} B entry (${concurrency} callers)`,
    fmt(l2.ours),
    'raw ioredis getBuffer, same bytes',
    fmt(l2.theirs),
    `${((1 - l2.ours / l2.theirs) * 100).toFixed(1)}% overhead`,
    '<= 20%',
  ],
];
const head = ['path', 'ours ops/s', 'peer', 'peer ops/s', 'ratio', 'goal'];
const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
const line = (cells: string[]) => `| ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
console.log(`node ${process.version}, ${seconds} s in all, median of ${rounds} alternating rounds per side`);
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
console.log(`(our L1 served ${fmt(l1Hits)} hits in the run)`);
