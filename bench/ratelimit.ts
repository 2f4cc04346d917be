// Decisions per second: our GCRA limiter against rate-limiter-flexible (the field's library), on the same
// redis-server and in memory, in the same run, with the same concurrency and the same keys.
//
//   npm run bench:ratelimit              (BENCH_SECONDS=N per contender and store, default 10)
//
// 64 callers each await one decision after another over 10 000 keys; every decision is allowed, so neither
// side pays for rejections. Each contender runs in two halves, in alternating
// order, so drift in the machine's speed does not favour one side. Our Redis store sends the decisions of one
// microtask turn as one script call; rate-limiter-flexible sends one call per decision, so a second Redis row
// gives both clients ioredis's enableAutoPipelining (one socket write per turn), its best setting. A decision
// our limiter made on its local insurance store (Redis slow or failing) does not count as a Redis decision.

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

/** Decisions to leave out of a contender's count (our limiter's insurance fallbacks), read before and after. */
type Excluded = () => number;

async function run(
  decide: Decide,
  ms: number,
  excluded?: Excluded,
): Promise<{ rate: number; errors: number }> {
  const excludedBefore = excluded?.() ?? 0;
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
  const elapsed = (performance.now() - started) / 1000;
  const left = (excluded?.() ?? 0) - excludedBefore;
  return { rate: (done - left) / elapsed, errors: errors + left };
}

async function compare(title: string, ours: Decide, theirs: Decide, excluded?: Excluded) {
  await run(ours, 500); // warm-up, JIT
  await run(theirs, 500);
  const half = (seconds * 1000) / 2;
  const a1 = await run(ours, half, excluded);
  const b1 = await run(theirs, half);
  const b2 = await run(theirs, half);
  const a2 = await run(ours, half, excluded);
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
const pipelined = { ...options, enableAutoPipelining: true };
const clients = [options, options, pipelined, pipelined].map((o) => new Redis(redis.url, o));
const [ourClient, theirClient, ourPipelined, theirPipelined] = clients as [Redis, Redis, Redis, Redis];
await Promise.all(clients.map((c) => c.connect()));

try {
  const ourRedis = createRateLimiter({ store: new RedisRateLimitStore(ourClient), policies: [policy] });
  const theirRedis = new RateLimiterRedis({
    storeClient: theirClient,
    points,
    duration: 60,
    keyPrefix: 'rlf',
  });
  const ourRedisPipelined = createRateLimiter({
    store: new RedisRateLimitStore(ourPipelined, { prefix: 'hr:rl:p:' }),
    policies: [policy],
  });
  const theirRedisPipelined = new RateLimiterRedis({
    storeClient: theirPipelined,
    points,
    duration: 60,
    keyPrefix: 'rlfp',
  });
  const ourMemory = createRateLimiter({ policies: [policy] });
  const theirMemory = new RateLimiterMemory({ points, duration: 86_400 });

  const results = [
    await compare(
      'Redis (one redis-server)',
      (i) => ourRedis.check(ourKeys[i]!, 'bench'),
      (i) => theirRedis.consume(theirKeys[i]!),
      () => ourRedis.stats.fallbackDecisions,
    ),
    await compare(
      'Redis, both clients auto-pipelined',
      (i) => ourRedisPipelined.check(ourKeys[i]!, 'bench'),
      (i) => theirRedisPipelined.consume(theirKeys[i]!),
      () => ourRedisPipelined.stats.fallbackDecisions,
    ),
    await compare(
      'memory',
      (i) => ourMemory.check(ourKeys[i]!, 'bench'),
      (i) => theirMemory.consume(theirKeys[i]!),
    ),
  ];
  const fallbacks = ourRedis.stats.fallbackDecisions + ourRedisPipelined.stats.fallbackDecisions;
  if (fallbacks > 0) {
    console.warn(
      `note: ${fallbacks} of our decisions fell back to insurance; counted as errors, not decisions`,
    );
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
      .map((r) => {
        const met = r.ratio >= 1 && r.errors === 0;
        return `${r.title}: ratio ${r.ratio.toFixed(2)} (goal ≥ 1.0, no errors) ${met ? 'met' : 'NOT met'}`;
      })
      .join('\n'),
  );
} finally {
  for (const client of clients) client.disconnect();
  await redis.stop();
}
