// Casebook through a real PgBouncer in transaction mode, as scaled mode runs it: every route under the fuzz
// suite's valid and hostile requests with no 5xx, the server-side statement timeout still enforced (as the role's
// default: PgBouncer refuses session settings), exports run by a worker woken through a direct LISTEN, and
// every statement tagged with its route where pg_stat_statements can see it. The pooler has fewer server
// connections than the app has clients, so any session state one request left behind would reach another.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PgBouncerServer, startPgBouncer } from '@headroom/dev-servers/pgbouncer';
import { until } from '@headroom/dev-servers/until';
import pg from 'pg';
import { databasePool } from '../src/db/pool.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { fuzzRoutes, type Issued } from './support/fuzz/routes.ts';
import { fuzzRoute, statusSummary } from './support/fuzz/run.ts';
import { type FuzzTarget, startFuzzTarget } from './support/fuzz/target.ts';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs = Number(process.env.PGBOUNCER_FUZZ_RUNS ?? 12);

let bouncer: PgBouncerServer;
const bouncerLog: string[] = [];

before(async () => {
  const upstream = new URL(process.env.HEADROOM_TEST_PG_URL!);
  bouncer = await startPgBouncer({
    upstream: {
      host: upstream.hostname,
      port: Number(upstream.port),
      user: decodeURIComponent(upstream.username),
      password: decodeURIComponent(upstream.password),
    },
    poolMode: 'transaction',
    poolSize: 3,
    onLog: (line) => bouncerLog.push(line),
  });
});
after(() => bouncer.close());

test('the harness really is a transaction pooler: a named statement does not survive its transaction', async () => {
  // What casebook's named statements would meet without the pooler setting (PgBouncer 1.18 has no protocol-level
  // prepared statements): one client's statement on a server connection another client then gets.
  const failures: string[] = [];
  const clients = Array.from(
    { length: 6 },
    () => new pg.Client({ connectionString: bouncer.url('postgres') }),
  );
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < 5; i++) {
          await client
            .query({ name: 'same-name', text: 'SELECT $1::int AS n', values: [i] })
            .catch((error: Error) => failures.push(error.message));
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  assert.ok(
    failures.some((m) => /prepared statement "same-name" (?:already exists|does not exist)/.test(m)),
    `expected prepared-statement errors, got ${JSON.stringify(failures.slice(0, 3))}`,
  );
});

describe('every route through PgBouncer', () => {
  const issued: Issued = { cursors: [], etags: [], names: [] };
  const routes = fuzzRoutes(issued);
  let target: FuzzTarget;
  before(async () => {
    target = await startFuzzTarget(issued, { pooler: bouncer });
    await target.t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => target.t.close());

  for (const [i, route] of routes.entries()) {
    const name = `${route.method} ${route.url}`;
    test(name, async (t) => {
      const verdict = await fuzzRoute(target, issued, route, { runs, seed: seed + i });
      t.diagnostic(`${verdict.requests} requests, seed ${seed + i}: ${statusSummary(verdict.statuses)}`);
      if (verdict.failure) assert.fail(`${name} through PgBouncer (FUZZ_SEED=${seed}):\n${verdict.failure}`);
    });
  }

  test('PgBouncer saw no protocol or prepared-statement error', () => {
    const errors = bouncerLog.filter((line) => /ERROR|prepared statement|pooler error/i.test(line));
    assert.deepEqual(errors, []);
  });

  test('pg_stat_statements saw the statements tagged with the routes that ran them', async () => {
    const { rows } = await target.t.db.pool.query<{ query: string }>(
      `SELECT query FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    const tagged = rows.filter((r) => /\/\*route='[^']+',statement='[^']+'\*\//.test(r.query));
    assert.ok(
      tagged.some((r) => r.query.includes("route='GET%20%2Fv1%2Fcases%2F%3Aid'")),
      'the detail route tagged its statements',
    );
    assert.ok(tagged.some((r) => r.query.includes("route='GET%20%2Fv1%2Fcases%2Fsearch'")));
  });
});

describe('session-wide behaviour, kept without sessions', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ pooler: bouncer, listen: true });
  });
  after(() => t.close());

  test("concurrent requests share the server connections and none meets another one's state", async () => {
    // More clients than server connections, each request's statements on whichever connection is free: a named
    // statement prepared by one request is then missing (or already there) for the next.
    const tokens = await Promise.all(
      ['analyst@acme.test', 'analyst@globex.test', 'admin@initech.test'].map((e) => t.login(e)),
    );
    const ids = (
      await t.db.pool.query<{ id: number; tenant_id: number }>(
        'SELECT DISTINCT ON (tenant_id) id, tenant_id FROM cases ORDER BY tenant_id, id',
      )
    ).rows;
    const urls = (id: number) => [
      `/v1/cases/${id}?expand=owner.team.org`,
      `/v1/cases/${id}/timeline?limit=5`,
      `/v1/cases/${id}/comments`,
      '/v1/cases/search?q=fraud&limit=5',
      '/v1/me',
    ];
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 20 }, async (_, lane) => {
        for (let i = 0; i < 15; i++) {
          const who = (lane + i) % tokens.length;
          const list = urls(ids[who]!.id);
          const res = await t.as(tokens[who]!, { url: list[(lane * 7 + i) % list.length]! });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }
      }),
    );
    assert.deepEqual([...statuses], [[200, 300]]);
  });

  test('the statement timeout holds through the pooler, as the role default in the database', async () => {
    const pool = databasePool(bouncer.url(new URL(t.db.url).pathname.slice(1)), { max: 2 }, { pooler: true });
    try {
      const { rows } = await pool.query('SHOW statement_timeout');
      assert.equal(rows[0].statement_timeout, '2s');
      await assert.rejects(pool.query('SELECT pg_sleep(10)'), { code: '57014' });
    } finally {
      await pool.end();
    }
  });

  test('an export is enqueued through the pooler and run by a worker woken through the direct LISTEN', async () => {
    const token = await t.login('analyst@acme.test');
    const created = await t.as(token, {
      method: 'POST',
      url: '/v1/exports',
      payload: { kind: 'cases', format: 'csv' },
      headers: { 'idempotency-key': '"pgbouncer-export-1"' },
    });
    assert.equal(created.statusCode, 202, created.body);
    const { id } = created.json();
    // The fake clock never moves: a worker that only polled would never find the job; NOTIFY wakes it.
    await until(async () => (await t.as(token, { url: `/v1/exports/${id}` })).json().status === 'done', {
      timeout: 20_000,
      what: 'the export to be done',
    });
    const file = await t.as(token, { url: `/v1/exports/${id}/download` });
    assert.equal(file.statusCode, 200);
    assert.match(file.body, /^id,/);
  });
});
