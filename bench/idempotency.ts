// What does an Idempotency-Key cost a request? The same Fastify route with the headroom plugin, answered
// through app.inject, with and without a key, for each store: memory, Redis (one redis-server) and
// PostgreSQL (embedded, fsync off). With a key, a first request takes the key and keeps its answer (two store
// operations); a retry is answered from the store without the handler (one).
//
//   npm run bench:idempotency          (BENCH_REQUESTS=N per contender and round, default 2000; 3 rounds)
//
// Rounds alternate the order of the contenders, so drift in the machine's speed favours none; the figure is
// the median of the rounds' per-request means.

import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIdempotency, type IdempotencyStore, memoryIdempotencyStore } from '@headroom/core/idempotency';
import { idempotencyTableSql, postgresIdempotencyStore } from '@headroom/core/idempotency/postgres';
import { redisIdempotencyStore } from '@headroom/core/idempotency/redis';
import { startPostgres } from '@headroom/dev-servers/postgres';
import { startRedis } from '@headroom/dev-servers/redis';
import { headroom } from '@headroom/fastify';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const rounds = 3;
const body = { title: 'Card testing from one BIN', priority: 'high', tags: ['fraud', 'cards'] };

async function appWith(store: IdempotencyStore) {
  const app = Fastify();
  await app.register(headroom, {
    service: 'bench',
    version: '1',
    defaultMetrics: false,
    idempotency: createIdempotency({ store }),
  });
  const scope = () => ({ tenant: 'acme', principal: 'user:1' });
  app.post('/v1/cases', { config: { idempotency: { scope } } }, async (_request, reply) => {
    reply.code(201).header('location', '/v1/cases/1');
    return { id: 1, ...body };
  });
  await app.ready();
  return app;
}

type App = Awaited<ReturnType<typeof appWith>>;

/** Mean µs per request of `n` sequential requests; `key(i)` gives the header, or undefined for none. */
async function measure(app: App, key: (i: number) => string | undefined): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) {
    const k = key(i);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/cases',
      payload: body,
      headers: k ? { 'idempotency-key': k } : {},
    });
    if (res.statusCode !== 201) throw new Error(`answer ${res.statusCode}: ${res.body}`);
  }
  return Number(process.hrtime.bigint() - started) / 1_000 / requests;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const redis = await startRedis();
const redisClient = new Redis(redis.url, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  lazyConnect: true,
});
await redisClient.connect();
const dir = await mkdtemp(join(tmpdir(), 'headroom-bench-idem-'));
await chmod(dir, 0o711);
const postgres = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
const pool = new pg.Pool({ connectionString: postgres.url(), max: 4 });
await pool.query(idempotencyTableSql());

try {
  const stores: [string, IdempotencyStore][] = [
    ['memory', memoryIdempotencyStore()],
    ['Redis', redisIdempotencyStore(redisClient, { prefix: `bench:${randomUUID()}:` })],
    ['PostgreSQL', postgresIdempotencyStore(pool)],
  ];
  const rows: string[] = [];
  for (const [name, store] of stores) {
    const app = await appWith(store);
    const replayKey = `"replay-${randomUUID()}"`;
    await measure(app, () => replayKey); // warm-up, JIT; leaves one kept answer to replay
    const without: number[] = [];
    const first: number[] = [];
    const replay: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const run = async () => {
        without.push(await measure(app, () => undefined));
        first.push(await measure(app, () => `"${randomUUID()}"`));
        replay.push(await measure(app, () => replayKey));
      };
      if (r % 2 === 0) await run();
      else {
        replay.push(await measure(app, () => replayKey));
        first.push(await measure(app, () => `"${randomUUID()}"`));
        without.push(await measure(app, () => undefined));
      }
    }
    await app.close();
    const base = median(without);
    rows.push(
      `| ${name} | ${base.toFixed(1)} | ${median(first).toFixed(1)} | +${(median(first) - base).toFixed(1)} | ${median(replay).toFixed(1)} | ${(median(replay) - base).toFixed(1)} |`,
    );
  }
  console.log(
    `${requests} sequential requests per contender per round, ${rounds} rounds, medians; µs per request`,
  );
  console.log(
    '| store | no key | first request with a key | overhead | retry (replayed) | replay − no key |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
} finally {
  redisClient.disconnect();
  await redis.stop();
  await pool.end();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}
