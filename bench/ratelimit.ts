// Decisions per second: our GCRA limiter against rate-limiter-flexible (the field's library), on the same
// redis-server and in memory, in the same run, with the same concurrency and the same keys.
//
//   npm run bench:ratelimit              (BENCH_SECONDS=N per contender and store, default 10)
//
// 64 callers each await one decision after another over 10 000 keys; every decision is allowed, so neither
// side pays for rejections. Each contender runs in two halves, in alternating
// order, so drift in the machine's speed does not favour one side.

import { startRedis } from '@headroom/dev-servers/redis';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { createRateLimiter, type RateLimitKey, rateLimitKey } from '../packages/core/src/ratelimit/index.ts';
import { RedisRateLimitStore } from '../packages/core/src/ratelimit/redis/index.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = 64;
const keyCount = 10_000;
// A daily quota no caller reaches in the run: every decision is allowed and every key stays live (its TAT
// keeps moving ahead), as for real clients, rather than expiring between two of its requests.
const points = 1_000_000;
const policy = { name: 'bench', limit: points, window: 86_400_000 };

const ourKeys: RateLimitKey[] = Array.from({ length: keyCount }, (_, i) =>
  rateLimitKey({ tenant: `t${i}` }, 'search'),
);
const theirKeys: string[] = ourKeys.map((k) => String(k));

type Decide = (i: number) => Promise<unknown>;

async function run(decide: Decide, ms: number): Promise<{ rate: number; errors: number }> {
  let done = 0;
  let errors = 0;
  const end = performance.now() + ms;
  let next = 0;
  const loop = async () => {
    while (performance.now() < end) {
      for (let b = 0; b < 50; b++) {
        try {
          await decide(next++ % keyCount);
        } catch {
          errors++;
        }
      }
      done += 50;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { rate: done / ((performance.now() - started) / 1000), errors };
}

async function compare(title: string, ours: Decide, theirs: Decide) {
  await run(ours, 500); // warm-up, JIT
  await run(theirs, 500);
  const half = (seconds * 1000) / 2;
  const a1 = await run(ours, half);
  const b1 = await run(theirs, half);
  const b2 = await run(theirs, half);
  const a2 = await run(ours, half);
  const oursRate = (a1.rate + a2.rate) / 2;
  const theirsRate = (b1.rate + b2.rate) / 2;
  return {
    title,
    oursRate,
    theirsRate,
    errors: a1.errors + a2.errors + b1.errors + b2.errors,
    ratio: oursRate / theirsRate,
  };
}

const redis = await startRedis();
const options = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true };
const ourClient = new Redis(redis.url, options);
const theirClient = new Redis(redis.url, options);
await Promise.all([ourClient.connect(), theirClient.connect()]);

try {
  const ourRedis = createRateLimiter({ store: new RedisRateLimitStore(ourClient), policies: [policy] });
  const theirRedis = new RateLimiterRedis({
    storeClient: theirClient,
    points,
    duration: 60,
    keyPrefix: 'rlf',
  });
  const ourMemory = createRateLimiter({ policies: [policy] });
  const theirMemory = new RateLimiterMemory({ points, duration: 86_400 });

  const results = [
    await compare(
      'Redis (one redis-server)',
      (i) => ourRedis.check(ourKeys[i]!, 'bench'),
      (i) => theirRedis.consume(theirKeys[i]!),
    ),
    await compare(
      'memory',
      (i) => ourMemory.check(ourKeys[i]!, 'bench'),
      (i) => theirMemory.consume(theirKeys[i]!),
    ),
  ];
  if (ourRedis.stats.fallbackDecisions > 0) {
    console.warn(`note: ${ourRedis.stats.fallbackDecisions} of our Redis decisions fell back to insurance`);
  }

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(
    `${concurrency} in flight, ${keyCount.toLocaleString('en-US')} keys, ${seconds} s per contender per store`,
  );
  console.log(
    '| store | headroom GCRA decisions/s | rate-limiter-flexible decisions/s | headroom ÷ rlf | errors |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.title} | ${fmt(r.oursRate)} | ${fmt(r.theirsRate)} | ${r.ratio.toFixed(2)} | ${r.errors} |`,
    );
  }
  console.log(
    results
      .map((r) => `${r.title}: ratio ${r.ratio.toFixed(2)} (goal ≥ 1.0) ${r.ratio >= 1 ? 'met' : 'NOT met'}`)
      .join('\n'),
  );
} finally {
  ourClient.disconnect();
  theirClient.disconnect();
  await redis.stop();
}
