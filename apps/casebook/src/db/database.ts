// The one door to PostgreSQL for casebook's routes: plain queries and transactions on one pool, the time
// spent waiting for a connection measured, and a database that cannot answer turned into a 503 the client
// can retry (never a 500, never a hang: the pool's limits bound every wait, see pool.ts, and a route's own
// deadline from its budget bounds its calls tighter, see route-deadlines.ts).

import type pg from 'pg';
import { casebookErrors } from '../errors.ts';
import { queryDeadline } from './route-deadlines.ts';

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

/** What the database reports as it is used. */
export interface DatabaseObserver {
  /** A connection was handed out after waiting `ms` (0 when one was idle). */
  acquired?(ms: number): void;
}

// SQLSTATE classes and codes that mean "not now" rather than "wrong": a cancelled (timed out) statement,
// a server shutting down or starting, too many connections, out of resources, a broken connection.
const unavailableStates = /^(?:57014|57P0[123]|53\d{3}|08\d{3})$/;
const unavailableErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTCONN',
]);
// node-postgres's own messages for its client-side bounds and for a connection that died under a query.
const unavailableMessages =
  /timeout exceeded when trying to connect|Query read timeout|Connection terminated|connection error|Client was closed/i;

/**
 * True when `error` says the database cannot answer now (timeouts, refused or lost connections, a server
 * shutting down), as opposed to a query it answered with an error.
 *
 * @example
 * if (isDatabaseUnavailable(error)) throw unavailable(error);
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (unavailableStates.test(code) || unavailableErrnos.has(code))) return true;
  return typeof message === 'string' && unavailableMessages.test(message);
}

function rethrow(error: unknown): never {
  if (!isDatabaseUnavailable(error)) throw error;
  throw casebookErrors.create(
    'HR_DATABASE_UNAVAILABLE',
    'the database did not answer in time; retry shortly',
    {
      cause: error,
      headers: { 'retry-after': '1' },
    },
  );
}

// A query config that the client gives up on after `deadline` ms (node-postgres's per-query `query_timeout`).
function withDeadline(config: string | pg.QueryConfig, deadline: number | undefined): pg.QueryConfig {
  if (deadline === undefined) return config as pg.QueryConfig;
  return typeof config === 'string'
    ? ({ text: config, query_timeout: deadline } as pg.QueryConfig)
    : ({ ...config, query_timeout: deadline } as pg.QueryConfig);
}

// A transaction's connection whose every query carries the route's deadline.
function boundedClient(client: pg.PoolClient, deadline: number): Queryable {
  return {
    query: ((config: string | pg.QueryConfig, values?: unknown[]) =>
      client.query(withDeadline(config, deadline), values)) as Queryable['query'],
  };
}

/**
 * Wraps a pool. Named statements (`{ name, text, values }`) are prepared once per connection.
 *
 * @example
 * const db = database(new pg.Pool({ connectionString }));
 * await db.transaction(async (tx) => { await tx.query('...'); });
 */
export function database(pool: pg.Pool, observer: DatabaseObserver = {}): Database {
  const connect = async (): Promise<pg.PoolClient> => {
    const started = performance.now();
    const client = await pool.connect().catch(rethrow);
    observer.acquired?.(performance.now() - started);
    return client;
  };
  const query = async (config: string | pg.QueryConfig, values?: unknown[]) => {
    const client = await connect();
    try {
      const result = await client.query(withDeadline(config, queryDeadline.getStore()), values);
      client.release();
      return result;
    } catch (error) {
      // A connection that timed out or broke is destroyed, not handed to the next caller.
      client.release(isDatabaseUnavailable(error) ? (error as Error) : undefined);
      rethrow(error);
    }
  };
  return {
    query: query as Queryable['query'],
    async transaction(fn) {
      const client = await connect();
      const deadline = queryDeadline.getStore();
      try {
        await client.query('BEGIN');
        // The route's deadline on the server too, for this transaction only (SET LOCAL ends with it).
        if (deadline !== undefined) await client.query(`SET LOCAL statement_timeout = ${deadline}`);
        const result = await fn(
          deadline === undefined ? (client as Queryable) : boundedClient(client, deadline),
        );
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        const broken = isDatabaseUnavailable(error);
        if (!broken) await client.query('ROLLBACK').catch(() => {});
        client.release(broken ? (error as Error) : undefined);
        rethrow(error);
      }
    },
  };
}
