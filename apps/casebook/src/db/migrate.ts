// Applies the SQL files in migrations/ in name order, each once: in its own transaction, or (a file whose
// first line is `-- headroom: no-transaction`, for CREATE INDEX CONCURRENTLY) on its own. A migration may run
// as long as it must, but never waits on a lock longer than `lockTimeout`: an ALTER queued behind a long
// transaction would otherwise block every query that comes after it.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';

const migrationsDir = join(import.meta.dirname, '..', '..', 'migrations');
/** Any constant works; it keeps two instances starting together from migrating twice. */
const lockKey = 0x6865_6164;

export interface MigrationResult {
  applied: string[];
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The longest a statement of a migration waits for a lock, in ms. @default 5000 */
  lockTimeout?: number;
  /** Where the SQL files are. @default the app's migrations/ */
  dir?: string;
}

// The pool bounds every query on the client side (db/pool.ts); a migration and the wait for another instance's
// migration are bounded by their locks instead.
const unbounded = 6 * 3_600_000;
const noTransaction = /^--\s*headroom:\s*no-transaction\b/;

// node-postgres reads a per-query `query_timeout`; its type definitions do not list it.
const withoutClientTimeout = (text: string, values?: unknown[]) =>
  ({ text, values, query_timeout: unbounded }) as pg.QueryConfig;

/**
 * Brings the database up to the newest migration. Safe to call from several processes at once.
 *
 * @example
 * await migrate(pool);
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrationResult> {
  const dir = options.dir ?? migrationsDir;
  const lockTimeout = Math.floor(options.lockTimeout ?? 5000);
  const client = await pool.connect();
  try {
    await client.query(withoutClientTimeout('SELECT pg_advisory_lock($1)', [lockKey]));
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    const applied: string[] = [];
    for (const name of await migrationNames(dir)) {
      if (done.has(name)) continue;
      const sql = await readFile(join(dir, name), 'utf8');
      const run = withoutClientTimeout(sql);
      if (noTransaction.test(sql)) {
        // CONCURRENTLY cannot run in a transaction; the bounds are set for the session and reset after.
        try {
          await client.query(`SET statement_timeout = 0; SET lock_timeout = ${lockTimeout}`);
          await client.query(run);
          await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        } catch (error) {
          throw new Error(`migration ${name} failed`, { cause: error });
        } finally {
          await client.query('RESET statement_timeout; RESET lock_timeout').catch(() => {});
        }
      } else {
        await client.query('BEGIN');
        try {
          // As long as it must, but never queued behind a lock for long: the rest of the database waits too.
          await client.query(`SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = ${lockTimeout}`);
          await client.query(run);
          await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${name} failed`, { cause: error });
        }
      }
      applied.push(name);
    }
    return { applied };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => {});
    client.release();
  }
}

/** True when every migration file has been applied. */
export async function isMigrated(pool: pg.Pool): Promise<boolean> {
  const names = await migrationNames(migrationsDir);
  const result = await pool
    .query<{ name: string }>(
      "SELECT name FROM schema_migrations WHERE to_regclass('schema_migrations') IS NOT NULL",
    )
    .catch(() => ({ rows: [] as { name: string }[] }));
  const done = new Set(result.rows.map((r) => r.name));
  return names.every((n) => done.has(n));
}

async function migrationNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
}
