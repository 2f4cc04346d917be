// The connection the db commands work on: one they are handed, or a client opened on `--database-url` and
// closed after, with a refused or malformed URL reported as a usage error naming the flag.

import pg from 'pg';
import { DbUsageError } from './usage-error.ts';

/** What the db commands need of a connection: a pg.Client, a pg.Pool, or a PoolClient. */
export interface Sql {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs `fn` on `db`: the connection given, or a client opened on the URL and closed after. A URL that does not
 * parse, or a server that cannot be reached, is a {@link DbUsageError} naming `--database-url` (password hidden).
 *
 * @example
 * const n = await connected(url, async (sql) => (await sql.query('SELECT 1 AS n')).rows[0]!.n);
 */
export async function connected<T>(db: string | Sql, fn: (sql: Sql) => Promise<T>): Promise<T> {
  if (typeof db !== 'string') return fn(db);
  let shown: string;
  try {
    const url = new URL(db);
    if (url.password) url.password = '***';
    shown = url.toString();
  } catch {
    throw new DbUsageError('--database-url: not a URL (postgres://user:password@host:port/database)');
  }
  const client = new pg.Client({ connectionString: db });
  // A connection the server drops is reported by the query that fails, not as an unhandled 'error'.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new DbUsageError(`--database-url ${shown}: cannot connect: ${(error as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
