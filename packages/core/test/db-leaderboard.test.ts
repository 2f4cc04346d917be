// queryLeaderboard on the test PostgreSQL (pg_stat_statements loaded by test/global-setup.ts): statements tagged
// by sqlComment for two routes, one of them slow on purpose, ranked by total time and attributed from their
// comments and from a catalogue; a database without the extension is a StatStatementsMissingError.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../apps/casebook/test/support/database.ts';
import { queryLeaderboard, StatStatementsMissingError, sqlComment } from '../src/db/index.ts';

// No constants: pg_stat_statements would keep them as parameters.
const slow = 'SELECT pg_sleep($1)';
const quick = 'SELECT $1::int AS n';
const plain = 'SELECT $1::text AS s, NULL AS t, true AS u';
// pg_stat_statements keeps NULL and true as parameters too.
const plainStored = 'SELECT $1::text AS s, $2 AS t, $3 AS u';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ migrated: false });
  await db.pool.query('CREATE EXTENSION pg_stat_statements');
  await db.pool.query(
    'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
  );
  // The slow statement: 2 calls of 20 ms; the quick one: 6 calls from the first route, then 2 from another.
  for (let i = 0; i < 2; i++)
    await db.pool.query(`${slow}\n${sqlComment({ route: 'GET /slow', statement: 'nap' })}`, [0.02]);
  for (let i = 0; i < 6; i++) await db.pool.query(`${quick}\n${sqlComment({ route: 'GET /a' })}`, [i]);
  for (let i = 0; i < 2; i++) await db.pool.query(`${quick}\n${sqlComment({ route: 'GET /b' })}`, [i]);
  await db.pool.query(plain, ['a']);
});
after(() => db?.close());

test('ranked by total time; routes from the first comment, every route from the catalogue', async () => {
  const board = await queryLeaderboard(db.pool);
  assert.equal(board.database, new URL(db.url).pathname.slice(1));
  const [first] = board.queries;
  assert.deepEqual(
    [first?.rank, first?.statement, first?.route, first?.routes, first?.attribution, first?.calls],
    [1, 'nap', 'GET /slow', ['GET /slow'], 'comment', 2],
  );
  assert.ok(first!.total_ms >= 40, `two 20 ms sleeps, got ${first!.total_ms} ms`);
  for (const [i, q] of board.queries.entries()) {
    assert.equal(q.rank, i + 1);
    if (i > 0) assert.ok(board.queries[i - 1]!.total_ms >= q.total_ms, 'sorted by total time');
  }
  const shared = board.queries.find((q) => q.query === quick)!;
  assert.deepEqual([shared.calls, shared.route, shared.routes], [8, 'GET /a', ['GET /a']]);
  const untagged = board.queries.find((q) => q.query === plainStored)!;
  assert.deepEqual([untagged.route, untagged.routes, untagged.attribution], [null, [], 'none']);
  assert.ok(!board.queries.some((q) => /pg_stat_statements_info/.test(q.query)), 'its own reads left out');

  const catalogue = [
    { name: 'one-int', text: quick, routes: ['GET /b', 'GET /c'] },
    // Recorded with constants where the app sends parameters: the same statement to pg_stat_statements.
    { name: 'two-texts', text: "SELECT E'a'::text AS s,\n  NULL AS t, TRUE AS u", routes: ['GET /d'] },
  ];
  const named = await queryLeaderboard(db.pool, { catalogue, limit: 2, minCalls: 2 });
  assert.deepEqual(
    named.queries.map((q) => [q.statement, q.routes, q.attribution]),
    [
      ['nap', ['GET /slow'], 'comment'],
      ['one-int', ['GET /a', 'GET /b', 'GET /c'], 'catalogue'],
    ],
  );
  const all = await queryLeaderboard(db.pool, { catalogue });
  const texts = all.queries.find((q) => q.query === plainStored)!;
  assert.deepEqual([texts.statement, texts.routes], ['two-texts', ['GET /d']], 'matched by its text');
});

test('without the extension: StatStatementsMissingError saying what to do', async () => {
  const bare = await createTestDatabase({ migrated: false });
  const client = new pg.Client({ connectionString: bare.url });
  await client.connect();
  try {
    await assert.rejects(queryLeaderboard(client), (error: Error) => {
      assert.ok(error instanceof StatStatementsMissingError);
      assert.match(error.message, /extension pg_stat_statements is not created in database t_/);
      assert.match(error.message, /CREATE EXTENSION pg_stat_statements/);
      return true;
    });
  } finally {
    await client.end();
    await bare.close();
  }
});
