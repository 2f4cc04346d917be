// Applies the SQL files in migrations/ in name order, each once, in its own transaction.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';

const migrationsDir = join(import.meta.dirname, '..', '..', 'migrations');
/** Any constant works; it keeps two instances starting together from migrating twice. */
const lockKey = 0x6865_6164;

export interface MigrationResult {
  applied: string[];
}

/**
 * Brings the database up to the newest migration. Safe to call from several processes at once.
 *
 * @example
 * await migrate(pool);
 */
export async function migrate(pool: pg.Pool): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lockKey]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    const applied: string[] = [];
    for (const name of await migrationNames()) {
      if (done.has(name)) continue;
      const sql = await readFile(join(migrationsDir, name), 'utf8');
      await client.query('BEGIN');
      try {
        // A migration may take longer than a request may: lift the pool's statement bound for this one only.
        await client.query('SET LOCAL statement_timeout = 0');
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed`, { cause: error });
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
  const names = await migrationNames();
  const result = await pool
    .query<{ name: string }>(
      "SELECT name FROM schema_migrations WHERE to_regclass('schema_migrations') IS NOT NULL",
    )
    .catch(() => ({ rows: [] as { name: string }[] }));
  const done = new Set(result.rows.map((r) => r.name));
  return names.every((n) => done.has(n));
}

async function migrationNames(): Promise<string[]> {
  return (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
}
