// The PostgreSQL pool with every wait bounded: getting a connection, the statement on the server, and the
// answer on the client (which also covers a server that stopped answering at all).

import pg from 'pg';

/** The bounds of every database call, in ms (durations without a unit, as every option of Headroom). */
export interface DatabaseLimits {
  /** Connections at most. @default 20 */
  max: number;
  /** Waiting for a free connection (or a new one) longer than this fails the call. @default 1000 */
  acquireTimeout: number;
  /** The server cancels a statement running longer (`statement_timeout`, set when a connection opens). @default 2000 */
  statementTimeout: number;
  /**
   * The client gives up on an answer after this (`query_timeout`): the bound when the server is frozen or
   * the network is gone, where `statementTimeout` cannot fire. The connection is then destroyed. @default 3000
   */
  queryTimeout: number;
  /** A session idle inside a transaction longer than this is ended by the server. @default 5000 */
  idleInTransactionTimeout: number;
}

/** @see DatabaseLimits */
export const defaultDatabaseLimits: Readonly<DatabaseLimits> = {
  max: 20,
  acquireTimeout: 1000,
  statementTimeout: 2000,
  queryTimeout: 3000,
  idleInTransactionTimeout: 5000,
};

/**
 * A pg.Pool whose every call is bounded by `limits`. The statement timeout is a session default set at
 * connect, the same for every connection; a route that needs another sets it with `SET LOCAL` inside its
 * transaction, which never outlives the transaction.
 *
 * @example
 * const pool = databasePool(process.env.DATABASE_URL!, { acquireTimeout: 500 });
 */
export function databasePool(connectionString: string, limits: Partial<DatabaseLimits> = {}): pg.Pool {
  const l = { ...defaultDatabaseLimits, ...limits };
  for (const [name, value] of Object.entries(l)) {
    if (!(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`databasePool: option "${name}" must be a positive integer, got ${value}`);
    }
  }
  return new pg.Pool({
    connectionString,
    max: l.max,
    connectionTimeoutMillis: l.acquireTimeout,
    statement_timeout: l.statementTimeout,
    query_timeout: l.queryTimeout,
    idle_in_transaction_session_timeout: l.idleInTransactionTimeout,
  });
}
