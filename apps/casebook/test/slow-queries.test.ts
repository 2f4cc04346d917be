// The operations page's slow queries on a test database: a statement of the real catalogue, sent untagged, named
// with every route the catalogue gives it; without pg_stat_statements, no rows and the reason.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sqlComment } from '@headroom/fastify';
import { readStatementCatalogue, slowQueries } from '../src/db/slow-queries.ts';
import { startTestApp, testOperatorToken } from './support/app.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db?.close());

test('the top statements by total time, with the routes the catalogue names', async () => {
  const catalogue = await readStatementCatalogue();
  const auth = catalogue.find((q) => q.name === 'auth-api-key')!;
  await db.pool.query(
    'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
  );
  await db.pool.query(auth.text, auth.values ?? []);
  for (let i = 0; i < 3; i++)
    await db.pool.query(`SELECT count(*) FROM cases\n${sqlComment({ route: 'GET /v1/cases/search' })}`);

  const { queries, reason } = await slowQueries(db.pool, catalogue)();
  assert.equal(reason, undefined);
  assert.ok(queries.length > 0 && queries.length <= 10);
  const byAuth = queries.find((q) => q.statement === 'auth-api-key')!;
  assert.deepEqual([byAuth.routes, byAuth.attribution], [[...auth.routes!].sort(), 'catalogue']);
  const counted = queries.find((q) => q.query === 'SELECT count(*) FROM cases')!;
  assert.deepEqual([counted.calls, counted.routes], [3, ['GET /v1/cases/search']]);
});

test('without pg_stat_statements: no rows and why; a file that is not a catalogue is refused', async () => {
  const bare = await createTestDatabase({ migrated: false });
  try {
    const answer = await slowQueries(bare.pool, [])();
    assert.deepEqual(answer.queries, []);
    assert.match(answer.reason ?? '', /extension pg_stat_statements is not created/);
  } finally {
    await bare.close();
  }
  const file = join(tmpdir(), `not-a-catalogue-${process.pid}.json`);
  await writeFile(file, '{"queries":[{"name":"x"}]}');
  try {
    await assert.rejects(readStatementCatalogue(file), /not a statement catalogue/);
  } finally {
    await rm(file, { force: true });
  }
});

test("casebook's operations page: a search's statements with its route, the rate limits by tenant", async () => {
  const t = await startTestApp();
  try {
    await t.db.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    // The seeding's COPYs and index builds out of the way: what the routes cost.
    await t.db.pool.query(
      'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
    );
    const login = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
    });
    const headers = { authorization: `Bearer ${login.json().token}` };
    const search = await t.app.inject({ url: '/v1/cases/search?q=fraud&limit=5', headers });
    assert.equal(search.statusCode, 200);

    const signIn = await t.app.inject({
      method: 'POST',
      url: '/_headroom/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: testOperatorToken }).toString(),
    });
    assert.equal(signIn.statusCode, 303);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const state = await t.app.inject({ url: '/_headroom/api/state', headers: { cookie } });
    assert.equal(state.statusCode, 200);
    const { slow_queries: slow, rate_limits: limits } = state.json();
    const searched = (slow.data.queries as { routes: string[]; statement: string | null }[]).filter((q) =>
      q.routes.includes('GET /v1/cases/search'),
    );
    assert.ok(searched.length > 0, JSON.stringify(slow));
    // The analyst's tenant, admitted by the tenant quota on login and search.
    const tenants = limits.data as { tenant: string; admitted: number; refused: number }[];
    assert.ok(
      tenants.some((r) => r.tenant !== 'anonymous' && r.admitted >= 1 && r.refused === 0),
      JSON.stringify(tenants),
    );
  } finally {
    await t.close();
  }
});
