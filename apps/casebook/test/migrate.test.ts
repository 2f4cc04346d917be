// The migration runner on a real PostgreSQL: a no-transaction migration can build an index CONCURRENTLY, a
// migration queued behind a lock gives up within its lock timeout instead of blocking everything behind it and
// is retried a bounded number of times, a failed concurrent build's invalid index is recorded and dropped before
// the next attempt, and a long migration is not cut by the pool's client-side query timeout.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import pg from 'pg';
import { concurrentIndexNames, type MigrationRetry, migrate } from '../src/db/migrate.ts';
import { databasePool } from '../src/db/pool.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
let dir: string;
let pool: pg.Pool;

before(async () => {
  db = await createTestDatabase({ migrated: false });
  dir = await mkdtemp(join(tmpdir(), 'headroom-migrations-'));
  // The app's own pool: every query bounded at 300 ms on the client side.
  pool = databasePool(db.url, { max: 2, queryTimeout: 300, statementTimeout: 300 });
  // A statement the 300 ms client bound gave up on may still run server side; dropping the database at the end
  // kills it, and the idle client reports that on the pool: the point of the drop, not a crash.
  pool.on('error', () => {});
});
after(async () => {
  await pool.end();
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test('a no-transaction migration builds an index CONCURRENTLY; a slow one outlives the pool’s bounds', async () => {
  await writeFile(join(dir, '001_items.sql'), 'CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);');
  await writeFile(
    join(dir, '002_items_name.sql'),
    '-- headroom: no-transaction\nCREATE INDEX CONCURRENTLY items_name ON items (name);',
  );
  await writeFile(join(dir, '003_slow.sql'), 'SELECT pg_sleep(0.6);');
  assert.deepEqual((await migrate(pool, { dir })).applied, [
    '001_items.sql',
    '002_items_name.sql',
    '003_slow.sql',
  ]);
  const index = await pool.query("SELECT indexname FROM pg_indexes WHERE indexname = 'items_name'");
  assert.equal(index.rowCount, 1);
  const settings = await pool.query('SHOW lock_timeout');
  assert.equal(settings.rows[0].lock_timeout, '0', 'the session bounds were reset after the migration');
  assert.deepEqual((await migrate(pool, { dir })).applied, [], 'each once');
});

test('a migration queued behind a lock gives up within its lock timeout, and applies once the lock is gone', async () => {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE'); // a long transaction holding the table
    await writeFile(join(dir, '004_items_note.sql'), 'ALTER TABLE items ADD COLUMN note text;');
    const started = performance.now();
    await assert.rejects(migrate(pool, { dir, lockTimeout: 200, retries: 0 }), (error: Error) => {
      assert.match(error.message, /migration 004_items_note\.sql failed/);
      assert.equal((error.cause as { code?: string }).code, '55P03', 'lock_not_available');
      return true;
    });
    assert.ok(performance.now() - started < 5_000, 'gave up instead of waiting for the lock');
    await holder.query('ROLLBACK');
  } finally {
    await holder.end();
  }
  assert.deepEqual((await migrate(pool, { dir, lockTimeout: 200 })).applied, ['004_items_note.sql']);
});

test('a no-transaction migration sends its statements one by one, however they are quoted', async () => {
  await writeFile(
    join(dir, '005_items_more.sql'),
    [
      '-- headroom: no-transaction',
      '-- two builds; the semicolons in quotes, comments and bodies below do not end a statement',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS items_note ON items (note);',
      "COMMENT ON INDEX items_note IS 'notes; searched';",
      '/* a block comment; with /* a nested one; */ inside */',
      'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "items;id" ON items (id);',
      "DO $body$ BEGIN PERFORM ';'; END $body$;",
    ].join('\n'),
  );
  assert.deepEqual((await migrate(pool, { dir })).applied, ['005_items_more.sql']);
  const built = await pool.query(
    "SELECT indexname FROM pg_indexes WHERE indexname IN ('items_note', 'items;id') ORDER BY 1",
  );
  assert.deepEqual(
    built.rows.map((r) => r.indexname),
    ['items;id', 'items_note'],
  );
});

test('a concurrent build that timed out on a lock leaves an invalid index: recorded, dropped, retried', async () => {
  // A writer that started before the build: CREATE INDEX CONCURRENTLY takes its table lock (no conflict), enters
  // the index in the catalogue (invalid), then waits for the writer, and that wait is what lock_timeout ends.
  const writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  const clock = new FakeClock();
  const retries: MigrationRetry[] = [];
  try {
    await writer.query('BEGIN');
    await writer.query("INSERT INTO items (id, name) VALUES (1000, 'pending')");
    await writeFile(
      join(dir, '006_items_name_id.sql'),
      '-- headroom: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_id ON items (name, id);',
    );
    const result = await migrate(pool, {
      dir,
      lockTimeout: 200,
      retries: 2,
      retryDelay: 1000,
      clock,
      onRetry: (retry) => {
        retries.push(retry);
        // The writer finishes while the runner waits; the wait itself is on the fake clock.
        void writer.query('COMMIT').then(() => setImmediate(() => void clock.tick(retry.delay)));
      },
    });
    assert.deepEqual(result.applied, ['006_items_name_id.sql']);
  } finally {
    await writer.end();
  }
  assert.equal(retries.length, 1);
  assert.match(retries[0]!.error, /^55P03 /);
  assert.deepEqual(retries[0]!.invalidIndexes, ['items_name_id']);
  assert.equal(retries[0]!.delay, 1000);
  const failures = await pool.query(
    "SELECT attempt, invalid_indexes FROM schema_migration_failures WHERE name = '006_items_name_id.sql'",
  );
  assert.deepEqual(failures.rows, [{ attempt: 1, invalid_indexes: ['items_name_id'] }]);
  const index = await pool.query(
    "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('items_name_id')",
  );
  assert.deepEqual(index.rows, [{ indisvalid: true }], 'rebuilt, valid');
});

test('lock timeouts are retried a bounded number of times, then the migration fails', async () => {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  const clock = new FakeClock();
  let attempts = 0;
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    await writeFile(join(dir, '007_items_tag.sql'), 'ALTER TABLE items ADD COLUMN tag text;');
    await assert.rejects(
      migrate(pool, {
        dir,
        lockTimeout: 100,
        retries: 2,
        clock,
        onRetry: (retry) => {
          attempts = retry.attempt;
          setImmediate(() => void clock.tick(retry.delay));
        },
      }),
      /migration 007_items_tag\.sql failed \(attempt 3\): 55P03/,
    );
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  assert.equal(attempts, 2, 'two retries after the first attempt');
  const failures = await pool.query(
    "SELECT count(*)::int AS n FROM schema_migration_failures WHERE name = '007_items_tag.sql'",
  );
  assert.equal(failures.rows[0].n, 3);
  assert.deepEqual(
    (await migrate(pool, { dir })).applied,
    ['007_items_tag.sql'],
    'applies once the lock is gone',
  );
});

test('an invalid index a crashed build left behind is dropped and built again, not kept by IF NOT EXISTS', async () => {
  // A unique build over duplicate values fails after entering the index: what a killed process leaves too.
  // Through the unbounded pool: on a busy machine the build can outlast 300 ms, and a client-side timeout is not
  // the failure this needs (CI once met it, and the build went on after the test).
  await db.pool.query("INSERT INTO items (id, name) VALUES (2000, 'twin'), (2001, 'twin')");
  await assert.rejects(db.pool.query('CREATE UNIQUE INDEX CONCURRENTLY items_name_unique ON items (name)'), {
    code: '23505',
  });
  await db.pool.query('DELETE FROM items WHERE id = 2001');
  await writeFile(
    join(dir, '008_items_name_unique.sql'),
    '-- headroom: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_name_unique ON items (name);',
  );
  assert.deepEqual((await migrate(pool, { dir })).applied, ['008_items_name_unique.sql']);
  const index = await pool.query(
    "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('items_name_unique')",
  );
  assert.deepEqual(index.rows, [{ indisvalid: true }]);
});

test('the index names a concurrent migration builds', () => {
  assert.deepEqual(
    concurrentIndexNames(
      'create index concurrently if not exists a_b on t (x);\nCREATE UNIQUE INDEX CONCURRENTLY headroom."Odd Name" ON t (y);',
    ),
    ['a_b', 'headroom."Odd Name"'],
  );
});
