// `headroom db top` through the binary against the test PostgreSQL (pg_stat_statements loaded, created in the
// template): statements tagged as casebook tags them, for two routes, one statement shared by both; the
// figures, the routes from the comment and from a catalogue, and this database alone in a cluster-wide view.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sqlComment } from '@headroom/fastify';
import pg from 'pg';
import { profiles, seed } from '../../../apps/casebook/src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../apps/casebook/test/support/database.ts';
import { type Leaderboard, type LeaderboardQuery, queryLeaderboard } from '../src/db/top.ts';
import { headroomDb } from './support/headroom-bin.ts';

const top = (args: string[]) => headroomDb('top', args);

const detailRoute = 'GET /v1/cases/:id';
const searchRoute = 'GET /v1/cases/search';
// The text the app sends, and what it appends: casebook's tagger writes @headroom/fastify's sqlComment.
const detail = 'SELECT id, title, status FROM cases WHERE tenant_id = $1 AND id = $2';
const search = 'SELECT count(*) FROM cases WHERE tenant_id = $1 AND status = $2';
const unnamed = 'SELECT id FROM cases WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 3';
const untagged = 'SELECT count(*) FROM comments WHERE tenant_id = $1';
const tagged = (text: string, route: string, statement?: string) =>
  `${text}\n${sqlComment({ route, statement })}`;

let db: TestDatabase;
let other: TestDatabase;
let tmp = '';
let catalogue = '';
let tenant = 0;
let caseId = 0;

before(async () => {
  [db, other] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  await seed(db.pool, profiles.test);
  tmp = await mkdtemp(join(tmpdir(), 'headroom-db-top-'));
  catalogue = join(tmp, 'statements.json');
  // As the recorder writes it (apps/casebook/test/support/statement-recorder.ts).
  await writeFile(
    catalogue,
    JSON.stringify({
      queries: [
        {
          name: 'case-detail-1',
          text: detail,
          values: [1, 5],
          routes: [detailRoute, searchRoute],
          max_per_request: 1,
        },
        {
          name: 'case-search-1',
          text: search,
          values: [1, 'open'],
          routes: [searchRoute],
          max_per_request: 1,
        },
        { name: 'select-1a2b3c4d', text: unnamed, values: [1], routes: [searchRoute], max_per_request: 1 },
      ],
    }),
  );
  const [row] = (await db.pool.query('SELECT tenant_id, id FROM cases ORDER BY id LIMIT 1')).rows;
  tenant = row.tenant_id;
  caseId = row.id;
  await traffic();
});

after(async () => {
  await Promise.all([db?.close(), other?.close()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// This database's entries only: the view is cluster-wide and other test files run beside this one.
async function resetStatements(pool: pg.Pool) {
  await pool.query(
    'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
  );
}

// The detail statement by its own route first (3 calls), then by the search route (2): one row, 5 calls, the
// first route's comment. The search statement by the search route only (4), an unnamed one (2), an untagged
// one (1). The other database runs the detail statement too, for a route of its own.
async function traffic() {
  await resetStatements(db.pool);
  for (let i = 0; i < 3; i++)
    await db.pool.query(tagged(detail, detailRoute, 'case-detail-1'), [tenant, caseId]);
  for (let i = 0; i < 2; i++)
    await db.pool.query(tagged(detail, searchRoute, 'case-detail-1'), [tenant, caseId]);
  for (let i = 0; i < 4; i++)
    await db.pool.query(tagged(search, searchRoute, 'case-search-1'), [tenant, 'open']);
  for (let i = 0; i < 2; i++) await db.pool.query(tagged(unnamed, searchRoute), [tenant]);
  await db.pool.query(untagged, [tenant]);
  for (let i = 0; i < 7; i++)
    await other.pool.query(tagged(detail, 'GET /elsewhere', 'case-detail-1'), [1, 1]);
}

// pg_stat_statements writes the constant 3 as a parameter.
const isUnnamed = (q: LeaderboardQuery) =>
  q.query === 'SELECT id FROM cases WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2';
const byStatement = (board: Leaderboard, name: string) => board.queries.find((q) => q.statement === name);

async function topJson(args: string[] = []): Promise<Leaderboard> {
  const { code, stdout, stderr } = await top(['--database-url', db.url, '--json', '--limit', '100', ...args]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as Leaderboard;
}

test('--json: ranked by total time, exact calls, rows and blocks, the route of the first comment', async () => {
  const board = await topJson();
  assert.equal(board.database, new URL(db.url).pathname.slice(1));
  assert.ok(!Number.isNaN(Date.parse(board.collected_at)));
  assert.deepEqual(
    board.queries.map((q) => q.rank),
    board.queries.map((_, i) => i + 1),
  );
  for (const [i, q] of board.queries.entries()) {
    if (i > 0) assert.ok(board.queries[i - 1]!.total_ms >= q.total_ms, 'sorted by total time');
    assert.ok(Math.abs(q.total_ms - (q.exec_ms + q.plan_ms)) < 0.01);
    // Both rounded to the microsecond: on a total of a few milliseconds that moves the share a little.
    const slack = 0.01 + (100 * 0.002) / board.total_ms;
    assert.ok(Math.abs(q.share_pct - (q.total_ms / board.total_ms) * 100) < slack, 'share of the total');
    assert.ok(q.p95_estimate_ms >= q.mean_ms && q.p95_estimate_ms <= q.max_ms);
  }
  assert.ok(board.queries.reduce((sum, q) => sum + q.share_pct, 0) <= 100.01);

  const shared = byStatement(board, 'case-detail-1')!;
  // (dealloc > 0 would mean pg_stat_statements.max filled up and evicted entries: counts could then be short.)
  assert.equal(
    shared.calls,
    5,
    `the other database's 7 calls are not counted here (dealloc ${board.dealloc})`,
  );
  assert.equal(shared.route, detailRoute, 'the first route to run it');
  assert.deepEqual(shared.routes, [detailRoute]);
  assert.equal(shared.attribution, 'comment');
  assert.equal(shared.query, 'SELECT id, title, status FROM cases WHERE tenant_id = $1 AND id = $2');
  assert.equal(shared.rows, 5);
  assert.equal(shared.rows_per_call, 1);
  assert.ok(shared.shared_blks_hit + shared.shared_blks_read > 0, 'blocks counted');
  assert.ok(shared.hit_ratio !== null && shared.hit_ratio >= 0 && shared.hit_ratio <= 1);
  assert.match(shared.queryid, /^-?\d+$/);

  const searched = byStatement(board, 'case-search-1')!;
  assert.deepEqual(
    [searched.calls, searched.rows, searched.route, searched.attribution],
    [4, 4, searchRoute, 'comment'],
  );
  const plain = board.queries.find(isUnnamed)!;
  assert.deepEqual([plain.calls, plain.rows, plain.route, plain.statement], [2, 6, searchRoute, null]);
  const none = board.queries.find((q) => q.query === untagged)!;
  assert.deepEqual([none.calls, none.route, none.routes, none.attribution], [1, null, [], 'none']);

  assert.ok(
    board.queries.every((q) => !q.routes.includes('GET /elsewhere')),
    "only this database's statements",
  );
});

test('--queries: every route the catalogue names for the statement, matched by name or by text', async () => {
  const board = await topJson(['--queries', catalogue]);
  const shared = byStatement(board, 'case-detail-1')!;
  assert.deepEqual(
    [shared.route, shared.routes, shared.attribution],
    [detailRoute, [detailRoute, searchRoute], 'catalogue'],
  );
  assert.deepEqual(byStatement(board, 'case-search-1')!.routes, [searchRoute]);
  // No statement name in its comment: found by its text, and named by the catalogue.
  const plain = board.queries.find(isUnnamed)!;
  assert.deepEqual([plain.statement, plain.attribution], ['select-1a2b3c4d', 'catalogue']);
  assert.equal(board.queries.find((q) => q.query === untagged)!.attribution, 'none');
  assert.ok(
    board.queries.every((q) => !/pg_stat_statements_info|clock_timestamp/.test(q.query)),
    "the previous run's reading of the view is left out",
  );
});

test('the table shows the routes, with +N for the others the catalogue names', async () => {
  const plain = await top(['--database-url', db.url]);
  assert.equal(plain.code, 0, plain.stderr);
  const detailLine = plain.stdout.split('\n').find((line) => line.includes('case-detail-1'))!;
  assert.match(detailLine, /GET \/v1\/cases\/:id +case-detail-1 +SELECT id, title, status FROM cases/);
  assert.match(plain.stdout, /^\s*\d+\s+[\d.]+%.*GET \/v1\/cases\/search\s+case-search-1/m);
  assert.match(
    plain.stdout,
    /^#\s+share\s+total ms\s+calls\s+mean ms\s+~p95 ms\s+rows\s+rows\/call\s+hit\s+read/m,
  );
  assert.match(plain.stdout, /~p95: mean \+ 1\.645 × stddev capped at max, an estimate/);
  assert.match(plain.stdout, /the first route to run the statement since the reset/);

  const withCatalogue = await top(['--database-url', db.url, '--queries', catalogue]);
  assert.match(withCatalogue.stdout, /GET \/v1\/cases\/:id \+1 +case-detail-1/);
});

test('--min-calls and --limit', async () => {
  const busy = await topJson(['--min-calls', '4']);
  assert.ok(busy.queries.every((q) => q.calls >= 4));
  assert.deepEqual(
    ['case-detail-1', 'case-search-1'].map((name) => byStatement(busy, name)?.calls),
    [5, 4],
  );
  const all = await topJson();
  const first = await topJson(['--limit', '2']);
  assert.equal(first.queries.length, 2);
  assert.ok(all.statements >= 4);
});

test('queryLeaderboard on a connection of ours; --reset empties this database only', async () => {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const board = await queryLeaderboard(client, { catalogue: [] });
    assert.equal(byStatement(board, 'case-detail-1')?.calls, 5);
    assert.equal(board.reset, false);
  } finally {
    await client.end();
  }

  const { code, stdout, stderr } = await top(['--database-url', db.url, '--json', '--reset']);
  assert.equal(code, 0, stderr);
  assert.equal((JSON.parse(stdout) as Leaderboard).reset, true);
  assert.match(stderr, /reset pg_stat_statements for t_/);
  const after = await topJson();
  assert.equal(byStatement(after, 'case-detail-1'), undefined, 'reset');
  const elsewhere = await queryLeaderboard(other.url);
  const kept = elsewhere.queries.find((q: LeaderboardQuery) => q.route === 'GET /elsewhere');
  assert.equal(kept?.calls, 7, "the other database's entries are kept");
  await traffic();
});

test('pg_stat_statements missing: exit 2 with what to configure', async () => {
  const bare = await createTestDatabase({ migrated: false });
  try {
    const { code, stdout, stderr } = await top(['--database-url', bare.url]);
    assert.equal(code, 2, stdout);
    assert.match(stderr, /the extension pg_stat_statements is not created in database t_/);
    assert.ok(stderr.includes("shared_preload_libraries = 'pg_stat_statements'"), stderr);
    assert.ok(stderr.includes('CREATE EXTENSION pg_stat_statements'), stderr);
  } finally {
    await bare.close();
  }
});

test('bad usage exits 2 and names the flag', async () => {
  const unreachable = 'postgres://someone:secret@127.0.0.1:1/nowhere';
  const cases: [string[], RegExp][] = [
    [[], /--database-url URL is required/],
    [['--database-url', 'not a url'], /--database-url: not a URL/],
    [['--database-url', db.url, '--limit', '0'], /--limit must be an integer of at least 1/],
    [['--database-url', db.url, '--min-calls', 'x'], /--min-calls must be an integer/],
    [['--database-url', db.url, '--queries', join(tmp, 'none.json')], /--queries .*none\.json: ENOENT/],
    [['--database-url', db.url, '--bogus'], /--bogus/],
    [
      ['--database-url', unreachable],
      /--database-url postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/nowhere: cannot connect/,
    ],
  ];
  const bad = join(tmp, 'bad.json');
  await writeFile(bad, JSON.stringify({ queries: [{ name: 'x', routes: 'GET /' }] }));
  cases.push([['--database-url', db.url, '--queries', bad], /--queries .*bad\.json: queries\[0\]/]);
  const results = await Promise.all(cases.map(([args]) => top(args)));
  for (const [i, { code, stderr }] of results.entries()) {
    assert.equal(code, 2, cases[i]![0].join(' '));
    assert.match(stderr, cases[i]![1]);
    assert.ok(!stderr.includes('secret'));
  }
});

test('--help lists the options and examples', async () => {
  const { code, stdout } = await top(['--help']);
  assert.equal(code, 0);
  for (const text of [
    '--database-url URL',
    '--limit N',
    '--min-calls N',
    '--queries FILE',
    '--json',
    '--reset',
  ]) {
    assert.ok(stdout.includes(text), text);
  }
  assert.match(stdout, /Examples:\n {2}headroom db top --database-url/);
});
