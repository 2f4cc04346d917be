// How fast does a Redis-backed cache use its L2 again once Redis is back? A real redis-server is killed
// (SIGKILL), left down for 3 s while two cache instances keep reading, then started again; the figure is the
// time from redis-server answering again (`start()` resolved: it answers PING) to the first L2 hit of
// instance A. Goal: ≤ 2 s in every round. Also timed: the first bus message A hears after the restart.
//
//   npm run bench:redis-recovery
//
// Each probe reads a fresh key through instance B (an L1 and L2 miss: B loads it and writes L2), then through
// instance A, on its own Redis connections: A's read is an L2 hit only when both instances' clients have
// reconnected and both L2 breakers let calls through again. B's write also publishes the bus message A hears.
// The probes run through the outage too, as traffic would, so the breakers open as they do in production.

import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis } from '@headroom/dev-servers/redis';
import { type Cache, cacheKey, createCache } from '../packages/core/src/cache/index.ts';
import {
  type CacheRedisClients,
  createRedisClients,
  redisBus,
  redisStore,
} from '../packages/core/src/cache/redis/index.ts';

const rounds = 5;
const downMs = 3_000;
const goalMs = 2_000;
/** A round that has not recovered by then is reported as not recovered. */
const recoveryLimitMs = 15_000;
/** Between probes: traffic at about 100 probes/s, and a timing resolution of about 10 ms. */
const probeGapMs = 10;
const maxProbes = Math.ceil((downMs + recoveryLimitMs) / probeGapMs) + 1_000;

interface Instance {
  cache: Cache;
  redis: CacheRedisClients;
}

async function instance(url: string, id: string): Promise<Instance> {
  const redis = createRedisClients(url);
  await redis.ready();
  const bus = redisBus({ client: redis.client, subscriber: redis.subscriber });
  await bus.ready;
  const cache = createCache({
    name: 'recovery',
    instanceId: id,
    ttl: 60_000,
    l2: redisStore({ client: redis.client, prefix: 'bench:recovery:' }),
    bus,
  });
  return { cache, redis };
}

const server = await startRedis();
const a = await instance(server.url, 'a');
const b = await instance(server.url, 'b');

let probes = 0;
/** One probe: B fills a fresh key, then A reads it. True when A's read was an L2 hit. */
async function probe(round: number): Promise<boolean> {
  const key = cacheKey({ tenant: 'bench' }, 'case', `${round}:${probes++}`);
  await b.cache.getOrSet(key, () => ({ from: 'b' }));
  await b.cache.whenIdle(); // B's L2 write and bus publish are done (or failed)
  const hits = a.cache.stats().requests.l2.hit;
  await a.cache.getOrSet(key, () => ({ from: 'a' }));
  return a.cache.stats().requests.l2.hit > hits;
}

interface Round {
  l2Ms: number | undefined;
  busMs: number | undefined;
  healthyMs: number | undefined;
  breakerAtStart: string | undefined;
}

async function measureRound(round: number): Promise<Round> {
  // Healthy first: A serves from L2 before the kill.
  const warm = await probeFor(round, 5_000, { stopOnHit: true });
  if (warm.l2At === undefined) throw new Error(`round ${round}: no L2 hit before the kill`);

  await server.kill();
  const down = await probeFor(round, downMs, { stopOnHit: false });
  if (down.l2At !== undefined) throw new Error(`round ${round}: an L2 hit while redis-server was dead`);

  await server.start();
  const restarted = performance.now();
  const breakerAtStart = a.cache.stats().l2.breaker;
  const after = await probeFor(round, recoveryLimitMs, {
    stopOnHit: true,
    waitForBus: true,
  });
  const since = (at: number | undefined) => (at === undefined ? undefined : at - restarted);
  return {
    l2Ms: since(after.l2At),
    busMs: since(after.busAt),
    healthyMs: since(after.healthyAt),
    breakerAtStart,
  };
}

/**
 * Runs probes back to back (gap `probeGapMs`) for at most `ms`; notes when A first got an L2 hit, first heard
 * a bus message, and first saw its bus healthy. Stops at the first L2 hit (and bus message, with `waitForBus`).
 */
async function probeFor(
  round: number,
  ms: number,
  options: { stopOnHit: boolean; waitForBus?: boolean },
): Promise<{ l2At?: number; busAt?: number; healthyAt?: number }> {
  const seen: { l2At?: number; busAt?: number; healthyAt?: number } = {};
  const heard = a.cache.onBusMessage(() => {
    seen.busAt ??= performance.now();
  });
  try {
    const end = performance.now() + ms;
    for (let n = 0; n < maxProbes && performance.now() < end; n++) {
      if (await probe(round)) seen.l2At ??= performance.now();
      if (a.cache.stats().bus.healthy) seen.healthyAt ??= performance.now();
      const finished = seen.l2At !== undefined && (!options.waitForBus || seen.busAt !== undefined);
      if (options.stopOnHit && finished) break;
      await sleep(probeGapMs);
    }
    return seen;
  } finally {
    heard.dispose();
  }
}

const results: Round[] = [];
const ms = (value: number | undefined) =>
  value === undefined
    ? `not within ${recoveryLimitMs.toLocaleString('en-US')}`
    : Math.round(value).toString();
try {
  console.log(
    `node ${process.version}, redis-server on 127.0.0.1:${server.port}, ${rounds} rounds: SIGKILL, ` +
      `${downMs / 1_000} s down with a probe every ~${probeGapMs} ms, start, probe until A's first L2 hit`,
  );
  console.log(
    '| round | first L2 hit (ms) | first bus message (ms) | bus healthy (ms) | A breaker at start |',
  );
  console.log('| ---: | ---: | ---: | ---: | --- |');
  for (let round = 1; round <= rounds; round++) {
    const r = await measureRound(round);
    results.push(r);
    console.log(
      `| ${round} | ${ms(r.l2Ms)} | ${ms(r.busMs)} | ${ms(r.healthyMs)} | ${r.breakerAtStart ?? 'none'} |`,
    );
  }
} finally {
  await Promise.allSettled([a.cache.close(), b.cache.close()]);
  await Promise.allSettled([a.redis.quit(), b.redis.quit()]);
  await server.stop();
}

const worst = (pick: (r: Round) => number | undefined) =>
  results.some((r) => pick(r) === undefined) ? undefined : Math.max(...results.map((r) => pick(r)!));
const maxL2 = worst((r) => r.l2Ms);
const maxBus = worst((r) => r.busMs);
const met = maxL2 !== undefined && maxL2 <= goalMs;
console.log(
  `(${probes.toLocaleString('en-US')} probes in all; times from redis-server answering PING again)`,
);
console.log(`max first bus message after restart: ${ms(maxBus)} ms`);
console.log(
  `L2 serving again after restart: max ${ms(maxL2)} ms over ${rounds} rounds, ` +
    `ratio ${maxL2 === undefined ? '∞' : (maxL2 / goalMs).toFixed(2)} of goal (goal ≤ 2 s) ${met ? 'met' : 'NOT met'}`,
);
