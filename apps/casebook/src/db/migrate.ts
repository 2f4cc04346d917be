// Applies the SQL files in migrations/ in name order, each once: in its own transaction, or (a file whose
// first line is `-- headroom: no-transaction`, for CREATE INDEX CONCURRENTLY) statement by statement outside
// one. Each migration runs under a `statement_timeout` and a `lock_timeout`: an ALTER queued behind a long
// transaction would otherwise block every query that comes after it. A migration that gave up on a lock is
// retried a bounded number of times; a CREATE INDEX CONCURRENTLY that failed leaves an invalid index behind,
// which is recorded and dropped before the next attempt (and before the first, after a crash).
//
// Run it through a direct connection, never a transaction pooler: it holds a session advisory lock throughout
// (DATABASE_DIRECT_URL, see config.ts). `headroom db lint apps/casebook/migrations` checks the files.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '@headroom/core/clock';
import type pg from 'pg';
import { splitStatements } from './sql-statements.ts';

const migrationsDir = join(import.meta.dirname, '..', '..', 'migrations');
/** Any constant works; it keeps two instances starting together from migrating twice. */
const lockKey = 0x6865_6164;

export interface MigrationResult {
  applied: string[];
}

/** A migration attempt that failed and will be tried again. */
export interface MigrationRetry {
  migration: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** The error's SQLSTATE and message. */
  error: string;
  /** Invalid indexes the attempt left (a failed CREATE INDEX CONCURRENTLY), dropped before the next one. */
  invalidIndexes: string[];
  /** How long until the next attempt, in ms. */
  delay: number;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The longest a statement of a migration waits for a lock, in ms. @default 5000 */
  lockTimeout?: number;
  /** The longest a statement of a migration runs, in ms (building an index on a large table takes minutes). @default 1_800_000 */
  statementTimeout?: number;
  /** Attempts after the first when a migration gives up on a lock (SQLSTATE 55P03). @default 3 */
  retries?: number;
  /** The wait before attempt n+1 is `retryDelay × n` ms. @default 2000 */
  retryDelay?: number;
  /** Times the waits between attempts. @default systemClock() */
  clock?: Clock;
  /** Told of each failed attempt that will be retried (a log line, say). */
  onRetry?: (retry: MigrationRetry) => void;
  /** Where the SQL files are. @default the app's migrations/ */
  dir?: string;
}

// The pool bounds every query on the client side (db/pool.ts); a migration is bounded by its server-side
// timeouts instead, and the wait for another instance's migration by that instance's.
const unbounded = 6 * 3_600_000;
const noTransaction = /^--\s*headroom:\s*no-transaction\b/;
const lockNotAvailable = '55P03';

// node-postgres reads a per-query `query_timeout`; its type definitions do not list it.
const withoutClientTimeout = (text: string, values?: unknown[]) =>
  ({ text, values, query_timeout: unbounded }) as pg.QueryConfig;

/**
 * Brings the database up to the newest migration. Safe to call from several processes at once.
 *
 * @example
 * await migrate(pool, { onRetry: (r) => logger.warn(r, 'migration retried') });
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrationResult> {
  const dir = options.dir ?? migrationsDir;
  const bounds = {
    lock: Math.floor(options.lockTimeout ?? 5000),
    statement: Math.floor(options.statementTimeout ?? 1_800_000),
  };
  const retries = options.retries ?? 3;
  const retryDelay = options.retryDelay ?? 2000;
  const clock = options.clock ?? systemClock();
  const client = await pool.connect();
  try {
    await client.query(withoutClientTimeout('SELECT pg_advisory_lock($1)', [lockKey]));
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    // Every failed attempt, kept: what an operator reads when a deploy's migration keeps timing out.
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migration_failures (
        name text NOT NULL, attempt integer NOT NULL, error text NOT NULL,
        invalid_indexes text[] NOT NULL DEFAULT '{}', failed_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    const applied: string[] = [];
    for (const name of await migrationNames(dir)) {
      if (done.has(name)) continue;
      const sql = await readFile(join(dir, name), 'utf8');
      const concurrent = noTransaction.test(sql);
      const indexes = concurrent ? concurrentIndexNames(sql) : [];
      for (let attempt = 1; ; attempt++) {
        // Left by an earlier attempt, or by a process that died mid-build: IF NOT EXISTS would keep it.
        if (concurrent) await dropInvalid(client, await invalidIndexes(client, indexes));
        try {
          if (concurrent) await runOutsideTransaction(client, name, sql, bounds);
          else await runInTransaction(client, name, sql, bounds);
          break;
        } catch (error) {
          const left = concurrent ? await invalidIndexes(client, indexes) : [];
          const reason = describe(error);
          await client.query(
            'INSERT INTO schema_migration_failures (name, attempt, error, invalid_indexes) VALUES ($1, $2, $3, $4)',
            [name, attempt, reason, left],
          );
          const code = (error as { code?: string }).code;
          if (code !== lockNotAvailable || attempt > retries) {
            if (left.length > 0) await dropInvalid(client, left);
            throw new Error(`migration ${name} failed (attempt ${attempt}): ${reason}`, { cause: error });
          }
          const delay = retryDelay * attempt;
          options.onRetry?.({ migration: name, attempt, error: reason, invalidIndexes: left, delay });
          await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
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

async function runInTransaction(
  client: pg.PoolClient,
  name: string,
  sql: string,
  bounds: { lock: number; statement: number },
) {
  await client.query('BEGIN');
  try {
    await client.query(
      `SET LOCAL statement_timeout = ${bounds.statement}; SET LOCAL lock_timeout = ${bounds.lock}`,
    );
    await client.query(withoutClientTimeout(sql));
    await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

// CONCURRENTLY cannot run in a transaction, nor in a multi-statement query (PostgreSQL runs those in an implicit
// one): each statement goes alone. The bounds are set for the session and reset after.
async function runOutsideTransaction(
  client: pg.PoolClient,
  name: string,
  sql: string,
  bounds: { lock: number; statement: number },
) {
  try {
    await client.query(`SET statement_timeout = ${bounds.statement}; SET lock_timeout = ${bounds.lock}`);
    for (const statement of splitStatements(sql)) await client.query(withoutClientTimeout(statement));
    await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
  } finally {
    await client.query('RESET statement_timeout; RESET lock_timeout').catch(() => {});
  }
}

/** The names of the indexes a migration builds CONCURRENTLY (schema-qualified when it says so). */
export function concurrentIndexNames(sql: string): string[] {
  const names: string[] = [];
  const pattern =
    /\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)/gi;
  for (const match of sql.matchAll(pattern)) names.push(match[1]!);
  return names;
}

async function invalidIndexes(client: pg.PoolClient, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const { rows } = await client.query<{ name: string }>(
    `SELECT n.name FROM unnest($1::text[]) AS n(name)
     JOIN pg_index i ON i.indexrelid = to_regclass(n.name)
     WHERE NOT i.indisvalid`,
    [names],
  );
  return rows.map((r) => r.name);
}

async function dropInvalid(client: pg.PoolClient, names: string[]) {
  for (const name of names)
    await client.query(withoutClientTimeout(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`));
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return code ? `${code} ${message}` : String(message ?? error);
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
