// The one interface every idempotency store implements (memory, Redis, PostgreSQL).

/** The parts of an answer a replay repeats. */
export interface StoredResponse {
  status: number;
  /** The headers that matter to a client that retries: Location, ETag, Content-Type. */
  headers: Record<string, string>;
  /** The body as sent, base64-free: UTF-8 text, or base64 when `binary`. */
  body: string;
  binary?: boolean;
}

/** A database client a store can write through, inside the caller's transaction: node-postgres's `query`. */
export interface Queryable {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** What `begin` found. */
export type BeginOutcome =
  /** Nobody holds the key: this request runs, holding it with `token` until it completes or releases it. */
  | { outcome: 'acquired'; token: string }
  /** Another request with this key is running; its lock lapses in `retryAfterMs`. */
  | { outcome: 'in-flight'; retryAfterMs: number }
  /** A request with this key completed: replay its answer. */
  | { outcome: 'completed'; response: StoredResponse }
  /** The key was used with another request. */
  | { outcome: 'mismatch' };

/** Arguments of `begin`. */
export interface BeginRequest {
  /** The scoped key: tenant, principal, method, route template and the client's key. */
  key: string;
  fingerprint: string;
  /** A fresh token for the lock (the coordinator makes it). */
  token: string;
  /** Now, ms since the epoch, from the caller's clock. */
  now: number;
  /** How long the lock holds if the request never completes (a crashed instance), in ms. */
  lockTtl: number;
}

/**
 * Keeps idempotency records. `begin` is atomic: of two requests with one key, one acquires it. A record
 * completes or is released only by the token that acquired it (a request that outlived its lock cannot
 * overwrite the one that took the key over). Every implementation passes `idempotencyStoreContract`.
 *
 * @example
 * const begun = await store.begin({ key, fingerprint, token, now: clock.now(), lockTtl: 60_000 });
 */
export interface IdempotencyStore {
  begin(request: BeginRequest): Promise<BeginOutcome>;
  /** Records the answer, kept `retention` ms; false when `token` no longer holds the key. */
  complete(
    key: string,
    token: string,
    response: StoredResponse,
    now: number,
    retention: number,
  ): Promise<boolean>;
  /**
   * `complete` through `client`, the caller's transaction, so the record commits or rolls back with the
   * write it guards. Only stores in the same database as the writes have it (PostgreSQL).
   */
  completeWithin?(
    client: Queryable,
    key: string,
    token: string,
    response: StoredResponse,
    now: number,
    retention: number,
  ): Promise<boolean>;
  /** Gives the key up (the request failed with a 5xx, or never produced an answer to keep). */
  release(key: string, token: string): Promise<void>;
  /** Removes records that expired before `now`; returns how many. */
  sweep(now: number): Promise<number>;
}
