// PostgreSQL frozen and stopped under casebook (a server of this file's own, so the rest of the suite keeps
// its database): every call is bounded, so an uncached route answers 503 HR_DATABASE_UNAVAILABLE with
// Retry-After instead of hanging or failing with a 500; cached answers keep coming; the outage is logged once
// per burst; and the pool's state is in /metrics.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { type PostgresServer, startPostgres } from '@headroom/dev-servers/postgres';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { database } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { databasePool } from '../src/db/pool.ts';
import { createLimits } from '../src/protection/limits.ts';
import { profiles, seed } from '../src/seed/index.ts';
import { operatorHeaders, testNow, testOperatorToken } from './support/app.ts';

let dir: string;
let server: PostgresServer;
let pool: pg.Pool;
let app: FastifyInstance;
const clock = new FakeClock({ now: testNow });
const logs: Record<string, unknown>[] = [];
let token: string;
let caseId: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'headroom-db-faults-'));
  await chmod(dir, 0o711);
  server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
  await server.createDatabase('casebook');
  pool = databasePool(server.url('casebook'), {
    max: 4,
    acquireTimeout: 300,
    statementTimeout: 500,
    queryTimeout: 800,
  });
  pool.on('error', () => {}); // idle connections die with the server; the next call gets a fresh one
  await migrate(pool);
  await seed(pool, profiles.test);
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  app = await buildApp({
    pool,
    clock,
    operatorToken: testOperatorToken,
    logger: pino({ level: 'warn' }, sink),
    limits: createLimits({ clock, scale: 1000 }),
    // This file is about requests under a failing database: no background export worker shares the small pool
    // (its polls would queue beside the requests and show in the pool's waiting count).
    exportWorkers: 0,
  });
  await app.ready();
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
  });
  token = login.json().token;
  const created = await app.inject({
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 'before' },
    headers: auth(),
  });
  caseId = created.json().id;
});
after(async () => {
  await app?.close();
  await pool?.end().catch(() => {});
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const auth = () => ({ authorization: `Bearer ${token}` });
const create = (title: string) =>
  app.inject({ method: 'POST', url: '/v1/cases', payload: { title }, headers: auth() });
const shedLines = () =>
  logs.filter((l) => l.msg?.toString().startsWith('request shed') && l.code === 'HR_DATABASE_UNAVAILABLE');

test('frozen: cached reads answer, writes answer 503 with Retry-After within the bounds; one log line per burst', async () => {
  assert.equal((await app.inject({ url: `/v1/cases/${caseId}`, headers: auth() })).statusCode, 200); // cached now
  server.freeze();
  try {
    const cached = await app.inject({ url: `/v1/cases/${caseId}`, headers: auth() });
    assert.equal(cached.statusCode, 200, 'the principal and the case come from the cache');

    const started = performance.now();
    const write = await create('while frozen');
    const took = performance.now() - started;
    assert.equal(write.statusCode, 503, write.body);
    assert.equal(write.json().code, 'HR_DATABASE_UNAVAILABLE');
    assert.equal(write.headers['retry-after'], '1');
    assert.equal(write.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.ok(
      took < 5_000,
      `answered in ${took.toFixed(0)} ms: bounded by the query timeout (800 ms), not the freeze`,
    );

    for (let i = 0; i < 10; i++) assert.equal((await create(`again ${i}`)).statusCode, 503);
    assert.equal(shedLines().length, 1, 'eleven failures, one line');
    // A write with an Idempotency-Key: its key cannot be checked, so nothing runs and the client may retry
    // with the same key (the chaos drill saw 500 here).
    const keyed = await app.inject({
      method: 'POST',
      url: '/v1/cases',
      payload: { title: 'keyed while frozen' },
      headers: { ...auth(), 'idempotency-key': '"frozen-1"' },
    });
    assert.equal(keyed.statusCode, 503, keyed.body);
    assert.equal(keyed.json().code, 'HR_IDEMPOTENCY_UNAVAILABLE');
    assert.equal(keyed.headers['retry-after'], '1');
    // New connections the frozen server did not take opened the connect breaker: no more attempts pile up in
    // its accept queue (one a second, once the clock moves), and readiness says why.
    const metrics = (await app.inject({ url: '/metrics', headers: operatorHeaders })).body;
    assert.match(metrics, /headroom_breaker_state\{breaker="database"\} 2/);
    const ready = await app.inject('/health/ready');
    assert.equal(ready.statusCode, 503);
    await clock.tick(10_000);
    assert.equal((await create('later')).statusCode, 503);
    const [, second] = shedLines();
    assert.equal(second?.suppressed, 10, 'the next line counts what the burst left out');
  } finally {
    server.thaw();
  }
  // Back: broken connections were destroyed; the connect breaker (open: the frozen server took no new
  // connection) tries one a second, then fresh connections serve.
  let back = await create('after the thaw');
  for (let i = 0; i < 5 && back.statusCode === 503; i++) {
    await clock.tick(1_000);
    back = await create('after the thaw');
  }
  assert.equal(back.statusCode, 201, back.body);
});

test('past its 30 s, a known principal stands in while the database is frozen; a revoked one does not', async () => {
  const other = (
    await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'admin@acme.test', password: 'headroom-demo' },
    })
  ).json().token as string;
  assert.equal(
    (await app.inject({ url: `/v1/cases/${caseId}`, headers: { authorization: `Bearer ${other}` } }))
      .statusCode,
    200,
  );
  assert.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        headers: { authorization: `Bearer ${other}` },
      })
    ).statusCode,
    204,
  );
  assert.equal((await app.inject({ url: `/v1/cases/${caseId}`, headers: auth() })).statusCode, 200);
  await clock.tick(31_000); // both principals past their fresh 30 s
  server.freeze();
  try {
    const known = await app.inject({ url: `/v1/cases/${caseId}`, headers: auth() });
    assert.equal(known.statusCode, 200, known.body);
    const revoked = await app.inject({
      url: `/v1/cases/${caseId}`,
      headers: { authorization: `Bearer ${other}` },
    });
    assert.notEqual(
      revoked.statusCode,
      200,
      'a credential revoked before the outage is not served from grace',
    );
  } finally {
    server.thaw();
  }
});

test('suggestions answer partial at once while the database is frozen; an unknown case is still 404 when it answers', async () => {
  assert.equal((await app.inject({ url: '/v1/cases/999999/suggestions', headers: auth() })).statusCode, 404);
  server.freeze();
  try {
    const answer = await app.inject({ url: `/v1/cases/${caseId}/suggestions`, headers: auth() });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.equal(answer.json().partial, true);
  } finally {
    server.thaw();
  }
});

test("a route's deadline from its budget bounds its database calls, however lax the pool's own bounds", async () => {
  // A pool that would wait a minute for anything: only the route deadline can answer this request.
  const lax = databasePool(server.url('casebook'), {
    max: 2,
    acquireTimeout: 60_000,
    statementTimeout: 60_000,
    queryTimeout: 60_000,
  });
  lax.on('error', () => {});
  const strict = await buildApp({
    pool: lax,
    clock,
    operatorToken: testOperatorToken,
    limits: createLimits({ clock, scale: 1000 }),
    databaseDeadlines: { overrides: { 'POST /v1/cases': 300, 'GET /v1/me': 300 } },
    exportWorkers: 0,
  });
  try {
    const headers = auth();
    assert.equal((await strict.inject({ url: '/v1/me', headers })).statusCode, 200); // principal cached
    server.freeze();
    try {
      const write = await strict.inject({
        method: 'POST',
        url: '/v1/cases',
        payload: { title: 'x' },
        headers,
      });
      assert.equal(write.statusCode, 503, write.body);
      assert.equal(write.json().code, 'HR_DATABASE_UNAVAILABLE');
    } finally {
      server.thaw();
    }
  } finally {
    await strict.close();
    await lax.end().catch(() => {});
  }
});

test("a transaction carries its route's deadline on the server, and the next borrower does not inherit it", async () => {
  const one = databasePool(server.url('casebook'), { max: 1, statementTimeout: 2_000 });
  try {
    let deadline: number | undefined = 300;
    const db = database(one, {}, { deadline: () => deadline });
    const inside = await db.transaction(
      async (tx) =>
        (await tx.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout,
    );
    deadline = undefined;
    assert.equal(inside, '300ms');
    // The pool's one connection, borrowed again without a deadline: the session default, not the route's.
    const after = (await db.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!
      .statement_timeout;
    assert.equal(after, '2s');
  } finally {
    await one.end();
  }
});

test('a connection that breaks while its client is checked out ends no process: the next statement fails', async () => {
  const one = databasePool(server.url('casebook'), { max: 1 });
  const other = databasePool(server.url('casebook'), { max: 1 });
  try {
    const client = await one.connect();
    const { pid } = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
    // Between two statements, as inside a transaction: the server ends the connection (a pooler stopping, say).
    const ended = new Promise((resolve) => client.once('end', resolve));
    await other.query('SELECT pg_terminate_backend($1)', [pid]);
    await ended; // without a listener of the pool's own, its 'error' event had no listener: an uncaught error
    await assert.rejects(client.query('SELECT 1'));
    client.release(true);
    assert.equal(
      (await one.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n,
      1,
      'a fresh connection serves',
    );
  } finally {
    await one.end();
    await other.end();
  }
});

test('the pool is in /metrics: connections by state and the wait for one', async () => {
  const metrics = await app.inject({ url: '/metrics', headers: operatorHeaders });
  assert.match(metrics.body, /headroom_db_pool_connections\{state="idle"\} \d+/);
  // The scrape itself reads the queues' counts through the pool, so a caller may be waiting for a connection.
  assert.match(metrics.body, /headroom_db_pool_connections\{state="waiting"\} \d+/);
  assert.match(metrics.body, /headroom_db_pool_wait_seconds_count \d+/);
  // The whole exposition of casebook, its own series and the plugin's, passes Prometheus' own linter.
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '');
});

test('stopped: a write answers 503 at once (connection refused), never a 500', async () => {
  await server.stop();
  const write = await create('while stopped');
  assert.equal(write.statusCode, 503, write.body);
  assert.equal(write.json().code, 'HR_DATABASE_UNAVAILABLE');
  assert.equal(
    logs.filter((l) => l.msg === 'request failed').length,
    0,
    'no error-level line, no stack trace',
  );
});
