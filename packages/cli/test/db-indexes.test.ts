// `headroom db indexes` through the binary against the test PostgreSQL: a table with a duplicate, a left prefix,
// one covered by an INCLUDE, a duplicate of a primary key and of a unique constraint, look-alikes that are not
// duplicates, an unused index, and an invalid one left by a failed CREATE UNIQUE INDEX CONCURRENTLY. The printed
// statements are then run, and the report comes back clean.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../../apps/casebook/test/support/database.ts';
import { type IndexReport, indexReport, parseSize } from '../src/db/indexes.ts';
import { headroomDb } from './support/headroom-bin.ts';

const indexes = (args: string[]) => headroomDb('indexes', args);

let db: TestDatabase;

before(async () => {
  db = await createTestDatabase({ migrated: false });
  const q = (sql: string) => db.pool.query(sql);
  await q(`CREATE TABLE items (id bigint PRIMARY KEY, a int, b int, c text, code text, note text,
    email text CONSTRAINT items_email_key UNIQUE)`);
  await q(`INSERT INTO items SELECT g, g % 10, g % 7, 'x' || g, CASE WHEN g <= 2 THEN 'dup' ELSE 'c' || g END,
    'n' || g, 'e' || g || '@example.com' FROM generate_series(1, 2000) g`);
  for (const sql of [
    'CREATE INDEX items_a ON items (a)', // a left prefix of items_a_b
    'CREATE INDEX items_a_b ON items (a, b)',
    'CREATE INDEX items_b ON items (b)',
    'CREATE INDEX items_b_again ON items (b)', // a duplicate, the newer
    'CREATE INDEX items_email_plain ON items (email)', // what the unique constraint's index does already
    'CREATE UNIQUE INDEX items_id_copy ON items (id)', // what the primary key does already
    'CREATE INDEX items_lower_c ON items (lower(c))',
    'CREATE INDEX items_lower_c2 ON items (lower(c))',
    // Look-alikes: another predicate, operator class, method, or ordering.
    'CREATE INDEX items_a_partial ON items (a) WHERE b > 0',
    'CREATE INDEX items_c_pattern ON items (c text_pattern_ops)',
    'CREATE INDEX items_a_hash ON items USING hash (a)',
    'CREATE INDEX items_a_b_desc ON items (a, b DESC)',
    'CREATE INDEX items_c_unused ON items (c)',
    'CREATE INDEX items_note ON items (note)',
    'CREATE TABLE notes (id bigint PRIMARY KEY, k int, v text)',
    'CREATE INDEX notes_k ON notes (k)', // covered by notes_k_v
    'CREATE INDEX notes_k_v ON notes (k) INCLUDE (v)',
    'ALTER TABLE notes ADD CONSTRAINT notes_v_key1 UNIQUE (v), ADD CONSTRAINT notes_v_key2 UNIQUE (v)',
  ]) {
    await q(sql);
  }
  // Fails on the two 'dup' codes, and leaves the index behind, invalid.
  await assert.rejects(
    q('CREATE UNIQUE INDEX CONCURRENTLY items_code ON items (code)'),
    /could not create unique index/,
  );
  // One index scanned, its scan flushed to the statistics before this session's next statement returns.
  const client = await db.pool.connect();
  try {
    await client.query('SET enable_seqscan = off');
    await client.query("SELECT id FROM items WHERE note = 'n5'");
    await client.query('SELECT pg_stat_force_next_flush()');
    await client.query('SELECT 1');
  } finally {
    client.release();
  }
});

after(() => db?.close());

const redundant = (report: IndexReport) =>
  report.duplicates.map((d) => `${d.index} ${d.kind} ${d.covered_by}: ${d.drop}`).sort();

test('redundant, invalid and unused indexes are reported; exit 1', async () => {
  const { code, stdout, stderr } = await indexes(['--database-url', db.url, '--json', '--min-size', '0']);
  assert.equal(code, 1, stderr);
  const report = JSON.parse(stdout) as IndexReport;
  assert.deepEqual(redundant(report), [
    'public.items_a prefix public.items_a_b: DROP INDEX CONCURRENTLY public.items_a;',
    'public.items_b_again duplicate public.items_b: DROP INDEX CONCURRENTLY public.items_b_again;',
    'public.items_email_plain duplicate public.items_email_key: DROP INDEX CONCURRENTLY public.items_email_plain;',
    'public.items_id_copy duplicate public.items_pkey: DROP INDEX CONCURRENTLY public.items_id_copy;',
    'public.items_lower_c2 duplicate public.items_lower_c: DROP INDEX CONCURRENTLY public.items_lower_c2;',
    'public.notes_k covered public.notes_k_v: DROP INDEX CONCURRENTLY public.notes_k;',
    'public.notes_v_key2 duplicate public.notes_v_key1: ALTER TABLE public.notes DROP CONSTRAINT notes_v_key2;',
  ]);
  assert.deepEqual(
    report.invalid.map(({ index, building, drop }) => ({ index, building, drop })),
    [{ index: 'public.items_code', building: false, drop: 'DROP INDEX CONCURRENTLY public.items_code;' }],
  );
  const unused = report.unused.map((u) => u.index);
  assert.ok(unused.includes('public.items_c_unused'));
  assert.ok(!unused.includes('public.items_note'), 'scanned once');
  for (const enforcing of ['items_pkey', 'items_email_key', 'items_id_copy', 'notes_v_key1', 'items_code']) {
    assert.ok(!unused.includes(`public.${enforcing}`), `${enforcing} enforces something (or is invalid)`);
  }
  assert.ok(report.unused.every((u) => u.bytes > 0));
  assert.equal(report.stats_reset, null, 'a new database: its statistics were never reset');
  assert.equal(report.unused_below_min_size, 0);
});

test('the text names both indexes of a pair and prints the statements; --min-size hides small unused ones', async () => {
  const { code, stdout } = await indexes(['--database-url', db.url]);
  assert.equal(code, 1);
  assert.match(stdout, /public\.items_a \(\d+ kB\) is a left prefix of public\.items_a_b on public\.items/);
  assert.match(stdout, /public\.items_b_again \(\d+ kB\) duplicates public\.items_b on public\.items/);
  assert.match(stdout, /drop: {2}CREATE INDEX items_a ON public\.items USING btree \(a\)/);
  assert.match(stdout, /keep: {2}CREATE INDEX items_a_b ON public\.items USING btree \(a, b\)/);
  assert.match(stdout, /^ {4}DROP INDEX CONCURRENTLY public\.items_code;$/m);
  assert.match(stdout, /public\.items_code on public\.items \(.+\): invalid/);
  assert.match(
    stdout,
    /Unused indexes: 0, no scan since the statistics began .*; \d+ smaller than 1\.0 MB not listed/,
  );
  assert.match(stdout, /printed, not run/);

  const listed = await indexes(['--database-url', db.url, '--min-size', '8kB']);
  assert.match(listed.stdout, /^ {2}public\.items +public\.items_c_unused +\d+ kB/m);
  assert.match(listed.stdout, /Primary key, unique and\n {2}exclusion indexes are not listed/);
});

test('after the printed statements run, nothing redundant or invalid is left: exit 0, unused still listed', async () => {
  const before = await indexReport(db.url, { minSize: 0 });
  for (const statement of [...before.duplicates.map((d) => d.drop), ...before.invalid.map((i) => i.drop!)]) {
    await db.pool.query(statement);
  }
  const { code, stdout } = await indexes(['--database-url', db.url, '--min-size', '0']);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /Redundant indexes: 0\.\n\nInvalid indexes: 0\.\n$/);
  assert.match(stdout, /public\.items_c_unused/);
  const after = await indexReport(db.url, { minSize: 0 });
  assert.deepEqual([after.duplicates, after.invalid], [[], []]);
});

test("casebook's migrated schema has no redundant or invalid index", async () => {
  const casebook = await createTestDatabase();
  try {
    const { code, stdout } = await indexes(['--database-url', casebook.url, '--json', '--min-size', '0']);
    const report = JSON.parse(stdout) as IndexReport;
    assert.deepEqual([code, report.duplicates, report.invalid], [0, [], []]);
    assert.ok(report.unused.length > 0, 'a database nobody queried: every plain index is unused');
  } finally {
    await casebook.close();
  }
});

test('--min-size takes what pg_size_bytes takes; bad usage exits 2 naming the flag', async () => {
  assert.deepEqual(['8192', '512kB', '1MB', '1.5 GB', '0', '2 bytes', 'lots', '1XB', ''].map(parseSize), [
    8192,
    512 * 1024,
    1024 ** 2,
    1.5 * 1024 ** 3,
    0,
    2,
    undefined,
    undefined,
    undefined,
  ]);
  const cases: [string[], RegExp][] = [
    [[], /--database-url URL is required/],
    [['--database-url', db.url, '--min-size', 'big'], /--min-size must be a size like 8192, 512kB or 1MB/],
    [['--database-url', db.url, '--bogus'], /--bogus/],
    [
      ['--database-url', 'postgres://x:pw@127.0.0.1:1/none'],
      /--database-url postgres:\/\/x:\*\*\*@.*cannot connect/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => indexes(args)));
  for (const [i, { code, stderr }] of results.entries()) {
    assert.equal(code, 2, cases[i]![0].join(' '));
    assert.match(stderr, cases[i]![1]);
  }
  const help = await indexes(['--help']);
  assert.equal(help.code, 0);
  for (const text of [
    '--database-url URL',
    '--min-size SIZE',
    '--json',
    'Examples:',
    'DROP INDEX CONCURRENTLY',
  ]) {
    assert.ok(help.stdout.includes(text), text);
  }
});
