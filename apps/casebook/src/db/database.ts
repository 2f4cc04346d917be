// The one door to PostgreSQL for casebook's routes: plain queries and transactions on one pool.

import type pg from 'pg';

/** What the routes need of a pool; a pg.Pool satisfies it (tests wrap one to count statements). */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    config: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

/**
 * Wraps a pool. Named statements (`{ name, text, values }`) are prepared once per connection.
 *
 * @example
 * const db = database(new pg.Pool({ connectionString }));
 * await db.transaction(async (tx) => { await tx.query('...'); });
 */
export function database(pool: pg.Pool): Database {
  return {
    query: (config, values) => pool.query(config as pg.QueryConfig, values),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client as Queryable);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
