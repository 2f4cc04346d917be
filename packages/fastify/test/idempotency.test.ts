// config.idempotency on real Fastify routes: replays, 409 while in flight, 422 on a reused key, refusals
// before the handler not recorded, 5xx releasing the key, tenants apart, and an answer kept before it is sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIdempotency } from '@headroom/core/idempotency';
import { idempotencyTableSql, postgresIdempotencyStore } from '@headroom/core/idempotency/postgres';
import Fastify, { type FastifyRequest } from 'fastify';
import pg from 'pg';
import { headroom } from '../src/index.ts';

const scope = (request: FastifyRequest) => ({
  tenant: String(request.headers['x-tenant'] ?? 'acme'),
  principal: 'user-1',
});

async function app() {
  const server = Fastify();
  const idempotency = createIdempotency();
  await server.register(headroom, { service: 't', version: '1', defaultMetrics: false, idempotency });
  const runs: unknown[] = [];
  let gate: Promise<void> | undefined;
  let failNext = false;
  server.post(
    '/v1/cases',
    {
      config: { idempotency: { required: true, scope } },
      schema: { body: { type: 'object', required: ['title'], properties: { title: { type: 'string' } } } },
    },
    async (request, reply) => {
      runs.push(request.body);
      if (gate) await gate;
      if (failNext) {
        failNext = false;
        throw new Error('the database went away');
      }
      reply.code(201).header('location', `/v1/cases/${runs.length}`).header('etag', `"${runs.length}-x"`);
      return { id: runs.length, title: (request.body as { title: string }).title };
    },
  );
  server.post('/v1/comments', { config: { idempotency: { scope } } }, async (request) => {
    runs.push(request.body);
    return { n: runs.length };
  });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    server.inject({ method: 'POST', url, payload: body as object, headers });
  return {
    server,
    runs,
    post,
    hold: () => {
      const { promise, resolve } = Promise.withResolvers<void>();
      gate = promise;
      return () => {
        gate = undefined;
        resolve();
      };
    },
    failNextRun: () => {
      failNext = true;
    },
  };
}

test('a retry with the same key replays the answer, without running the handler again', async () => {
  const { post, runs } = await app();
  const key = { 'idempotency-key': '"8e03978e-40d5-43e8-bc93-6894a57f9324"' };
  const first = await post('/v1/cases', { title: 'fraud' }, key);
  assert.equal(first.statusCode, 201);
  assert.equal(first.headers['idempotent-replayed'], undefined);
  const again = await post('/v1/cases', { title: 'fraud' }, key);
  assert.equal(again.statusCode, 201);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.body, first.body);
  assert.equal(again.headers.location, first.headers.location);
  assert.equal(again.headers.etag, first.headers.etag);
  assert.match(String(again.headers['content-type']), /^application\/json/);
  assert.equal(runs.length, 1);
});

test('the same request with its JSON members reordered is the same request; another body is 422', async () => {
  const { post, runs } = await app();
  const key = { 'idempotency-key': '"k-1"' };
  await post('/v1/comments', { a: 1, b: [1, { c: 2, d: 3 }] }, key);
  const reordered = await post('/v1/comments', { b: [1, { d: 3, c: 2 }], a: 1 }, key);
  assert.equal(reordered.headers['idempotent-replayed'], 'true');
  const other = await post('/v1/comments', { a: 2 }, key);
  assert.equal(other.statusCode, 422);
  assert.equal(other.json().code, 'HR_IDEMPOTENCY_KEY_REUSED');
  assert.equal(other.json().field, 'headers.idempotency-key');
  assert.equal(runs.length, 1);
});

test('a duplicate while the first is running is 409 with Retry-After; the retry after it gets the answer', async () => {
  const { post, runs, hold } = await app();
  const release = hold();
  const key = { 'idempotency-key': '"k-2"' };
  const first = post('/v1/cases', { title: 'slow' }, key);
  await new Promise((resolve) => setImmediate(resolve));
  const duplicate = await post('/v1/cases', { title: 'slow' }, key);
  assert.equal(duplicate.statusCode, 409);
  assert.equal(duplicate.json().code, 'HR_IDEMPOTENCY_IN_FLIGHT');
  assert.equal(duplicate.headers['retry-after'], '60');
  release();
  assert.equal((await first).statusCode, 201);
  assert.equal((await post('/v1/cases', { title: 'slow' }, key)).headers['idempotent-replayed'], 'true');
  assert.equal(runs.length, 1);
});

test('no key on a route that requires one is 400; a malformed key is 400; neither runs the handler', async () => {
  const { post, runs } = await app();
  const missing = await post('/v1/cases', { title: 'x' });
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.json().code, 'HR_IDEMPOTENCY_KEY_MISSING');
  for (const bad of ['"unterminated', '""', `"${'x'.repeat(256)}"`, 'two words', '"é"']) {
    const answer = await post('/v1/cases', { title: 'x' }, { 'idempotency-key': bad });
    assert.equal(answer.statusCode, 400, bad);
    assert.equal(answer.json().code, 'HR_IDEMPOTENCY_KEY_INVALID', bad);
  }
  assert.equal(
    (await post('/v1/comments', { a: 1 })).statusCode,
    200,
    'optional: a request without a key runs',
  );
  assert.equal(runs.length, 1);
});

test('a refusal before the handler (validation) is not recorded; a 5xx releases the key', async () => {
  const { post, runs, failNextRun } = await app();
  const key = { 'idempotency-key': '"k-3"' };
  assert.equal((await post('/v1/cases', { nope: 1 }, key)).statusCode, 400);
  assert.equal(
    (await post('/v1/cases', { title: 'valid' }, key)).statusCode,
    201,
    'not a 422: nothing was kept',
  );
  const key2 = { 'idempotency-key': '"k-4"' };
  failNextRun();
  assert.equal((await post('/v1/cases', { title: 'x' }, key2)).statusCode, 500);
  const retried = await post('/v1/cases', { title: 'x' }, key2);
  assert.equal(retried.statusCode, 201);
  assert.equal(retried.headers['idempotent-replayed'], undefined, 'the retry ran again');
  assert.equal(runs.length, 3);
});

test("a key is scoped by tenant: another tenant's request with the same key runs on its own", async () => {
  const { post, runs } = await app();
  const key = '"shared-key"';
  const acme = await post('/v1/cases', { title: 'a' }, { 'idempotency-key': key, 'x-tenant': 'acme' });
  const globex = await post('/v1/cases', { title: 'b' }, { 'idempotency-key': key, 'x-tenant': 'globex' });
  assert.equal(acme.statusCode, 201);
  assert.equal(globex.statusCode, 201);
  assert.equal(globex.headers['idempotent-replayed'], undefined);
  assert.notEqual(acme.body, globex.body);
  assert.equal(runs.length, 2);
});

test('a route with config.idempotency needs the plugin option', async () => {
  const server = Fastify();
  await server.register(headroom, { service: 't', version: '1', defaultMetrics: false });
  assert.throws(
    () => server.post('/x', { config: { idempotency: { scope } } }, async () => ({})),
    /config\.idempotency" must be set only when the headroom plugin has an idempotency option/,
  );
});

test('an answer kept in the handler’s transaction that then rolls back frees the key: the retry runs again', async () => {
  const admin = new pg.Pool({ connectionString: process.env.HEADROOM_TEST_PG_URL, max: 1 });
  const name = `idem_fastify_${process.pid}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(process.env.HEADROOM_TEST_PG_URL!);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.href, max: 2 });
  try {
    await pool.query(idempotencyTableSql());
    const server = Fastify();
    const idempotency = createIdempotency({ store: postgresIdempotencyStore(pool) });
    await server.register(headroom, { service: 't', version: '1', defaultMetrics: false, idempotency });
    let runs = 0;
    server.post('/v1/cases', { config: { idempotency: { scope } } }, async (request, reply) => {
      runs++;
      const tx = await pool.connect();
      try {
        await tx.query('BEGIN');
        const body = JSON.stringify({ id: runs });
        await request.idempotency?.completeWithin(tx, 201, body, { 'content-type': 'application/json' });
        if (runs === 1) throw new Error('COMMIT failed'); // the kept answer rolls back with the write
        await tx.query('COMMIT');
        return reply.code(201).type('application/json').send(body);
      } catch (error) {
        await tx.query('ROLLBACK');
        throw error;
      } finally {
        tx.release();
      }
    });
    const post = () =>
      server.inject({
        method: 'POST',
        url: '/v1/cases',
        payload: { title: 'x' },
        headers: { 'idempotency-key': '"tx-1"' },
      });
    assert.equal((await post()).statusCode, 500);
    const retried = await post();
    assert.equal(retried.statusCode, 201, retried.body);
    assert.equal(retried.headers['idempotent-replayed'], undefined, 'ran again, not a 409');
    const replayed = await post();
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.equal(replayed.body, '{"id":2}');
    assert.equal(runs, 2);
    await server.close();
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  }
});
