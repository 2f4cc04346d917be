// The migration runner on a real PostgreSQL: a no-transaction migration can build an index CONCURRENTLY, a
// migration queued behind a lock gives up within its lock timeout instead of blocking everything behind it,
// and a long migration is not cut by the pool's client-side query timeout.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate } from '../src/db/migrate.ts';
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
    await assert.rejects(migrate(pool, { dir, lockTimeout: 200 }), (error: Error) => {
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
