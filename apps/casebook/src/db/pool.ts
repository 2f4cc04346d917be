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
 * With `pooler` (the URL is a transaction pooler such as PgBouncer in transaction mode), no session setting is
 * sent at connect: PgBouncer refuses them, and a server connection is shared with other clients anyway. The
 * server-side bounds then come from the role's defaults, which {@link applyRoleLimits} sets through a direct
 * connection; the client-side bounds (acquire, query) hold either way.
 *
 * @example
 * const pool = databasePool(process.env.DATABASE_URL!, { acquireTimeout: 500 });
 */
export function databasePool(
  connectionString: string,
  limits: Partial<DatabaseLimits> = {},
  options: { pooler?: boolean } = {},
): pg.Pool {
  const l = { ...defaultDatabaseLimits, ...limits };
  for (const [name, value] of Object.entries(l)) {
    if (!(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`databasePool: option "${name}" must be a positive integer, got ${value}`);
    }
  }
  const pool = new pg.Pool({
    connectionString,
    max: l.max,
    connectionTimeoutMillis: l.acquireTimeout,
    query_timeout: l.queryTimeout,
    ...(options.pooler
      ? {}
      : {
          statement_timeout: l.statementTimeout,
          idle_in_transaction_session_timeout: l.idleInTransactionTimeout,
        }),
  });
  // pg-pool listens for a client's 'error' only while the client is idle in the pool. A connection that breaks
  // while a client is checked out and between statements (in a transaction, say) would emit 'error' with no
  // listener and end the process: the PgBouncer chaos drill saw both instances exit when PgBouncer stopped.
  // The statement that next uses the client fails instead (503), and the client is destroyed on release.
  pool.on('connect', (client) => {
    client.on('error', ignoreBrokenConnection);
  });
  return pool;
}

// The error reaches whoever uses the client next; nothing to do here but keep it from being unhandled.
function ignoreBrokenConnection(): void {}

/**
 * Makes the pool's server-side bounds the defaults of the connecting role in its database (`ALTER ROLE
 * CURRENT_USER IN DATABASE ... SET statement_timeout ...`), for a pool behind a transaction pooler, which cannot
 * set them per session. Run it through a direct connection; it applies to server connections opened after it.
 * A role may set its own defaults without any extra privilege.
 *
 * @example
 * await applyRoleLimits(directPool, config.database);
 */
export async function applyRoleLimits(
  direct: pg.Pool | pg.Client,
  limits: Partial<DatabaseLimits> = {},
): Promise<void> {
  const l = { ...defaultDatabaseLimits, ...limits };
  const { rows } = await direct.query<{ db: string }>('SELECT current_database() AS db');
  const database = `"${rows[0]!.db.replaceAll('"', '""')}"`;
  const set = (name: string, ms: number) =>
    `ALTER ROLE CURRENT_USER IN DATABASE ${database} SET ${name} = ${Math.floor(ms)}`;
  await direct.query(set('statement_timeout', l.statementTimeout));
  await direct.query(set('idle_in_transaction_session_timeout', l.idleInTransactionTimeout));
}
