// The idempotency stores on real servers: the contract on redis-server and on PostgreSQL, and the
// PostgreSQL record committing, or rolling back, with the write it guards.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startRedis } from '@headroom/dev-servers/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createIdempotency } from '../src/idempotency/index.ts';
import { idempotencyTableSql, PostgresIdempotencyStore } from '../src/idempotency/postgres/index.ts';
import { RedisIdempotencyStore } from '../src/idempotency/redis/index.ts';
import { idempotencyStoreContract } from '../src/idempotency/store-contract.ts';

const redis = await startRedis();
const client = new Redis(redis.url, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  lazyConnect: true,
});
await client.connect();

const admin = new pg.Pool({ connectionString: process.env.HEADROOM_TEST_PG_URL, max: 1 });
const database = `idem_${process.pid}_${Date.now()}`;
let pool: pg.Pool;
before(async () => {
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(process.env.HEADROOM_TEST_PG_URL!);
  url.pathname = `/${database}`;
  pool = new pg.Pool({ connectionString: url.href, max: 4 });
  await pool.query(idempotencyTableSql());
  await pool.query('CREATE TABLE writes (id serial PRIMARY KEY, note text NOT NULL)');
});
after(async () => {
  client.disconnect();
  await redis.stop();
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
});

idempotencyStoreContract(
  'redis store',
  () => new RedisIdempotencyStore(client, { prefix: `t${randomUUID()}:` }),
);
idempotencyStoreContract('postgres store', () => new PostgresIdempotencyStore(pool));

test('PostgreSQL: the record commits with the write, or rolls back with it and the key runs again', async () => {
  const store = new PostgresIdempotencyStore(pool);
  const idempotency = createIdempotency({ store });
  const scope = { tenant: 't1', principal: 'u1', method: 'POST', route: '/v1/cases' };
  const request = { method: 'POST', url: '/v1/cases', body: { title: 'x' } };
  const key = randomUUID();

  // A write whose transaction rolls back takes its record with it...
  const first = await idempotency.begin(scope, key, request);
  assert.equal(first.kind, 'run');
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    await tx.query('INSERT INTO writes (note) VALUES ($1)', [key]);
    if (first.kind === 'run') await first.completeWithin(tx, { status: 201, headers: {}, body: '{"id":1}' });
    await tx.query('ROLLBACK'); // the crash between the write and the answer
  } finally {
    tx.release();
  }
  if (first.kind === 'run') await first.release();
  // ...so the retry runs, and this time both commit together.
  const second = await idempotency.begin(scope, key, request);
  assert.equal(second.kind, 'run');
  const tx2 = await pool.connect();
  try {
    await tx2.query('BEGIN');
    await tx2.query('INSERT INTO writes (note) VALUES ($1)', [key]);
    if (second.kind === 'run') {
      assert.equal(await second.completeWithin(tx2, { status: 201, headers: {}, body: '{"id":2}' }), true);
    }
    await tx2.query('COMMIT');
  } finally {
    tx2.release();
  }
  const third = await idempotency.begin(scope, key, request);
  assert.deepEqual(third, { kind: 'replay', response: { status: 201, headers: {}, body: '{"id":2}' } });
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM writes WHERE note = $1', [key]);
  assert.equal(rows[0].n, 1, 'applied exactly once');
});

test('a store that cannot be read: 503 HR_IDEMPOTENCY_UNAVAILABLE with Retry-After, nothing held', async () => {
  const down = await startRedis();
  const lost = new Redis(down.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
  lost.on('error', () => {});
  await lost.connect();
  await down.stop();
  try {
    const idempotency = createIdempotency({ store: new RedisIdempotencyStore(lost) });
    const scope = { tenant: 'acme', principal: 'u1', method: 'POST', route: '/v1/cases' };
    await assert.rejects(
      idempotency.begin(scope, 'k1', { method: 'POST', url: '/v1/cases', body: { title: 'x' } }),
      (error: Error & { code?: string; status?: number; headers?: Record<string, string> }) => {
        assert.equal(error.code, 'HR_IDEMPOTENCY_UNAVAILABLE');
        assert.equal(error.status, 503);
        assert.equal(error.headers?.['retry-after'], '1');
        assert.ok(error.cause instanceof Error, 'the store’s own error is kept as the cause');
        return true;
      },
    );
  } finally {
    lost.disconnect();
  }
});
