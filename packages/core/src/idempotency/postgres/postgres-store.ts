// An idempotency store in PostgreSQL, whose records can commit in the same transaction as the write they
// guard: a crash between the write and its record cannot happen, so a retried request never runs twice.
// No driver dependency: any client with `query(text, values)` (node-postgres's Pool, Client or PoolClient).

import type { BeginOutcome, BeginRequest, IdempotencyStore, Queryable, StoredResponse } from '../store.ts';

/** Options of `postgresIdempotencyStore`. */
export interface PostgresIdempotencyStoreOptions {
  /** The table, created by {@link idempotencyTableSql}. @default 'headroom_idempotency' */
  table?: string;
}

/**
 * The DDL of the table (idempotent: `IF NOT EXISTS`); run it in a migration. Times are ms since the epoch,
 * the caller's clock, as for every store.
 *
 * @example
 * await pool.query(idempotencyTableSql());
 */
export function idempotencyTableSql(table = 'headroom_idempotency'): string {
  const name = checkTable(table);
  return `CREATE TABLE IF NOT EXISTS ${name} (
  key text PRIMARY KEY,
  fingerprint text NOT NULL,
  token text,
  locked_until bigint NOT NULL,
  expires_at bigint NOT NULL,
  response jsonb
);
CREATE INDEX IF NOT EXISTS ${name}_expires_at ON ${name} (expires_at);`;
}

function checkTable(table: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table))
    throw new TypeError(`idempotency table name ${JSON.stringify(table)} is not a plain identifier`);
  return table;
}

/**
 * A PostgreSQL-backed `IdempotencyStore`. `completeWithin(client, …)` writes the answer through the caller's
 * transaction client, so the record commits or rolls back with the write.
 *
 * @example
 * const store = new PostgresIdempotencyStore(pool);
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly #db: Queryable;
  readonly #table: string;

  constructor(db: Queryable, options: PostgresIdempotencyStoreOptions = {}) {
    this.#db = db;
    this.#table = checkTable(options.table ?? 'headroom_idempotency');
  }

  async begin({ key, fingerprint, token, now, lockTtl }: BeginRequest): Promise<BeginOutcome> {
    const until = Math.floor(now + lockTtl);
    // One statement: insert, or take over a record that expired or whose lock lapsed (same request only).
    const taken = await this.#db.query(
      `INSERT INTO ${this.#table} AS r (key, fingerprint, token, locked_until, expires_at, response)
       VALUES ($1, $2, $3, $4, $4, NULL)
       ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token,
         locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at, response = NULL
       WHERE r.expires_at <= $5
          OR (r.response IS NULL AND r.locked_until <= $5 AND r.fingerprint = EXCLUDED.fingerprint)
       RETURNING 1`,
      [key, fingerprint, token, until, Math.floor(now)],
    );
    if (taken.rowCount === 1) return { outcome: 'acquired', token };
    const { rows } = await this.#db.query(
      `SELECT fingerprint, locked_until, expires_at, response FROM ${this.#table} WHERE key = $1`,
      [key],
    );
    const row = rows[0];
    // Gone between the two statements (swept, released): the key is free again; let the client retry.
    if (!row) return { outcome: 'in-flight', retryAfterMs: 1 };
    if (row.fingerprint !== fingerprint) return { outcome: 'mismatch' };
    if (row.response) return { outcome: 'completed', response: row.response as StoredResponse };
    return { outcome: 'in-flight', retryAfterMs: Math.max(1, Number(row.locked_until) - now) };
  }

  complete(
    key: string,
    token: string,
    response: StoredResponse,
    now: number,
    retention: number,
  ): Promise<boolean> {
    return this.completeWithin(this.#db, key, token, response, now, retention);
  }

  /**
   * `complete` through `client` (the caller's transaction): the record commits with the write it guards.
   *
   * @example
   * await client.query('BEGIN'); … await store.completeWithin(client, key, token, response, now, day); await client.query('COMMIT');
   */
  async completeWithin(
    client: Queryable,
    key: string,
    token: string,
    response: StoredResponse,
    now: number,
    retention: number,
  ): Promise<boolean> {
    const done = await client.query(
      `UPDATE ${this.#table} SET response = $3, token = NULL, expires_at = $4
       WHERE key = $1 AND token = $2 AND response IS NULL`,
      [key, token, JSON.stringify(response), Math.floor(now + retention)],
    );
    return done.rowCount === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await this.#db.query(`DELETE FROM ${this.#table} WHERE key = $1 AND token = $2 AND response IS NULL`, [
      key,
      token,
    ]);
  }

  async sweep(now: number): Promise<number> {
    const swept = await this.#db.query(`DELETE FROM ${this.#table} WHERE expires_at <= $1`, [
      Math.floor(now),
    ]);
    return swept.rowCount ?? 0;
  }
}

/**
 * Creates a PostgreSQL idempotency store on a pool (or client) the caller owns.
 *
 * @example
 * await pool.query(idempotencyTableSql());
 * const store = postgresIdempotencyStore(pool);
 */
export function postgresIdempotencyStore(
  db: Queryable,
  options: PostgresIdempotencyStoreOptions = {},
): PostgresIdempotencyStore {
  return new PostgresIdempotencyStore(db, options);
}
