// The Idempotency-Key protocol over a store: scope the key, fingerprint the request, and tell the caller to
// run, to replay, or to refuse (409 while the first is running, 422 for a key reused with another request).

import { createHash, randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock/index.ts';
import { checkClock, checkNumber, withDefaults } from '../shared/options.ts';
import { idempotencyErrors } from './errors.ts';
import { type FingerprintedRequest, requestFingerprint } from './fingerprint.ts';
import { MemoryIdempotencyStore } from './memory-store.ts';
import type { IdempotencyStore, Queryable, StoredResponse } from './store.ts';

/** Options of `createIdempotency`. */
export interface IdempotencyOptions {
  /** Where records live; Redis or PostgreSQL share them between instances. @default a memory store */
  store?: IdempotencyStore;
  /** How long a completed answer is replayed, in ms. @default 86_400_000 (24 h) */
  retention?: number;
  /**
   * How long a request holds its key before another may take it over, in ms: the bound on a request that
   * never completes (its instance crashed). Longer than the slowest request the route serves. @default 60_000
   */
  lockTimeout?: number;
  clock?: Clock;
}

const defaultOptions = { retention: 86_400_000, lockTimeout: 60_000 };

/** Whose key it is: a key means the same only for the same caller on the same route. */
export interface IdempotencyScope {
  tenant: string;
  /** The authenticated principal (user or API key id). */
  principal: string;
  method: string;
  /** The route template (`/v1/cases/:id/comments`), not the URL. */
  route: string;
}

/** A request that holds its key: it runs, then completes (the answer is kept) or releases the key. */
export interface IdempotentRun {
  readonly kind: 'run';
  readonly key: string;
  /** Keeps `response` for replays; false when the lock lapsed and another request took the key over. */
  complete(response: StoredResponse): Promise<boolean>;
  /** With a PostgreSQL store: keeps `response` through the caller's transaction client. */
  completeWithin(client: Queryable, response: StoredResponse): Promise<boolean>;
  /** Gives the key up, so a retry runs again (a 5xx, a failure before any answer). */
  release(): Promise<void>;
}

/** A request whose key already has an answer: send it again, without running the handler. */
export interface IdempotentReplay {
  readonly kind: 'replay';
  readonly response: StoredResponse;
}

/** Seconds a client is told to wait when the store could not be read: a stall is short or it is an outage. */
const unavailableRetryAfter = 1;

/**
 * The coordinator; create it with `createIdempotency(options)`.
 *
 * @example
 * const idempotency = createIdempotency({ store: redisIdempotencyStore(redis) });
 */
export class Idempotency {
  readonly #store: IdempotencyStore;
  readonly #clock: Clock;
  readonly #retention: number;
  readonly #lockTimeout: number;

  constructor(options: IdempotencyOptions = {}) {
    const o = withDefaults(defaultOptions, options);
    this.#store = o.store ?? new MemoryIdempotencyStore();
    this.#clock = checkClock('idempotency', o.clock ?? systemClock());
    this.#retention = checkNumber('idempotency', 'retention', o.retention, { min: 1 });
    this.#lockTimeout = checkNumber('idempotency', 'lockTimeout', o.lockTimeout, { min: 1 });
  }

  /** The store's record key for a scope and a client's key: a hash, so no part can spell another scope. */
  static recordKey(scope: IdempotencyScope, key: string): string {
    const parts = JSON.stringify([scope.tenant, scope.principal, scope.method, scope.route, key]);
    return createHash('sha256').update(parts).digest('base64url');
  }

  /**
   * Starts a keyed request: resolves to a run (the caller runs it and completes or releases it) or a replay;
   * rejects with HR_IDEMPOTENCY_IN_FLIGHT (409, with Retry-After) or HR_IDEMPOTENCY_KEY_REUSED (422).
   *
   * @example
   * const call = await idempotency.begin(scope, key, { method: 'POST', url: '/v1/cases', body });
   * if (call.kind === 'replay') return send(call.response);
   */
  async begin(
    scope: IdempotencyScope,
    key: string,
    request: FingerprintedRequest,
  ): Promise<IdempotentRun | IdempotentReplay> {
    const recordKey = Idempotency.recordKey(scope, key);
    let begun: Awaited<ReturnType<IdempotencyStore['begin']>>;
    try {
      begun = await this.#store.begin({
        key: recordKey,
        fingerprint: requestFingerprint(request),
        token: randomUUID(),
        now: this.#clock.now(),
        lockTtl: this.#lockTimeout,
      });
    } catch (error) {
      // Nothing was done and nothing is held: the same request with the same key is safe to send again.
      throw idempotencyErrors.create(
        'HR_IDEMPOTENCY_UNAVAILABLE',
        'the Idempotency-Key could not be checked; nothing was done, retry with the same key',
        { headers: { 'retry-after': String(unavailableRetryAfter) }, cause: error },
      );
    }
    switch (begun.outcome) {
      case 'completed':
        return { kind: 'replay', response: begun.response };
      case 'in-flight': {
        const seconds = Math.max(1, Math.ceil(begun.retryAfterMs / 1000));
        throw idempotencyErrors.create(
          'HR_IDEMPOTENCY_IN_FLIGHT',
          'a request with this Idempotency-Key is still being processed',
          {
            headers: { 'retry-after': String(Math.min(seconds, 60)) },
            context: { field: 'headers.idempotency-key' },
          },
        );
      }
      case 'mismatch':
        throw idempotencyErrors.create(
          'HR_IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used with another request (another path, query or body)',
          { context: { field: 'headers.idempotency-key' } },
        );
      case 'acquired':
        return this.#run(recordKey, begun.token);
    }
  }

  #run(recordKey: string, token: string): IdempotentRun {
    const store = this.#store;
    const clock = this.#clock;
    const retention = this.#retention;
    return {
      kind: 'run',
      key: recordKey,
      complete: (response) => store.complete(recordKey, token, response, clock.now(), retention),
      completeWithin: (client, response) => {
        if (!store.completeWithin) {
          throw new TypeError('completeWithin needs a store that writes through a transaction (PostgreSQL)');
        }
        return store.completeWithin(client, recordKey, token, response, clock.now(), retention);
      },
      release: () => store.release(recordKey, token),
    };
  }

  /** Removes expired records (stores that do not expire them by themselves); returns how many. */
  sweep(): Promise<number> {
    return this.#store.sweep(this.#clock.now());
  }
}

/**
 * Creates the Idempotency-Key coordinator.
 *
 * @example
 * const idempotency = createIdempotency({ store: postgresIdempotencyStore(pool), retention: 86_400_000 });
 */
export function createIdempotency(options: IdempotencyOptions = {}): Idempotency {
  return new Idempotency(options);
}
