// An in-process GCRA store, bounded twice over: a key whose TAT has passed holds no information and is
// dropped, and past `maxKeys` the oldest key goes (approximately the least recently used, CLOCK-style).

import { checkNumber, withDefaults } from '../shared/options.ts';
import { type GcraParams, gcra, type StoreDecision } from './gcra.ts';
import type { RateLimitStore } from './store.ts';

/** Options of `memoryRateLimitStore`. */
export interface MemoryRateLimitStoreOptions {
  /**
   * Keys kept at most. Evicting a live key forgets its debt, so that key briefly gets a fresh burst: size this
   * above the number of keys active within one window.
   * @default 100_000
   */
  maxKeys?: number;
}

const defaultOptions = { maxKeys: 100_000 } satisfies Required<MemoryRateLimitStoreOptions>;

// Sweeping is amortised over inserts (every 8th, sparing at most 16 live keys per pass) and needs no timer,
// which keeps the store free of background work and of any clock of its own.
const sweepEvery = 7; // a mask: every 8th insert
const sweepSpare = 16;

/**
 * A `RateLimitStore` in Maps. TATs only; `now` is the caller's.
 *
 * @example
 * const store = new MemoryRateLimitStore({ maxKeys: 10_000 });
 */
export class MemoryRateLimitStore implements RateLimitStore {
  // One Map per scope (the limiter's per-policy suffix), in insertion order; a sweep re-inserts the live keys
  // it spares, so the oldest, least recently spared come first. Scoping avoids building `key + suffix` on
  // every decision: the caller's key and the suffix are long-lived strings whose hashes V8 caches.
  readonly #scopes = new Map<string, Map<string, number>>();
  readonly #maxKeys: number;
  #size = 0;
  #inserts = 0;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    const o = withDefaults(defaultOptions, options);
    this.#maxKeys = checkNumber('memoryRateLimitStore', 'maxKeys', o.maxKeys, { min: 1, integer: true });
  }

  /** Keys held now, over all scopes. */
  get size(): number {
    return this.#size;
  }

  decide(key: string, params: GcraParams, now: number, cost: number): Promise<StoreDecision> {
    return Promise.resolve(this.decideSync(key, params, now, cost));
  }

  /** `decide` without the promise, for callers that know the store is local. */
  decideSync(key: string, params: GcraParams, now: number, cost: number): StoreDecision {
    return this.decideScoped('', key, params, now, cost);
  }

  /**
   * `decideSync` on the bucket named by (`scope`, `key`): the same as `decideSync(key + scope, …)` would be,
   * without concatenating. Scoped and unscoped buckets never meet.
   *
   * @example
   * store.decideScoped('/p=pro', key, params, clock.now(), 1);
   */
  decideScoped(scope: string, key: string, params: GcraParams, now: number, cost: number): StoreDecision {
    let tats = this.#scopes.get(scope);
    const stored = tats?.get(key);
    const outcome = gcra(stored, now, params, cost);
    if (outcome.allowed && cost > 0) {
      if (!tats) {
        tats = new Map();
        this.#scopes.set(scope, tats);
      }
      tats.set(key, outcome.tat); // in place when present: updating a hot key costs no reordering
      if (stored === undefined) {
        this.#size++;
        if ((++this.#inserts & sweepEvery) === 0 || this.#size > this.#maxKeys) this.#sweep(tats, now);
      }
    }
    return outcome;
  }

  // A CLOCK-style pass from the oldest insertion: expired keys go, keys over the cap go, live keys get a second
  // chance at the young end. Only inserts grow the store, so sweeping the Map just inserted into bounds it.
  #sweep(tats: Map<string, number>, now: number): void {
    let spared = 0;
    for (const key of tats.keys()) {
      const tat = tats.get(key)!;
      tats.delete(key);
      this.#size--;
      if (this.#size >= this.#maxKeys || tat <= now) continue;
      tats.set(key, tat);
      this.#size++;
      if (++spared >= sweepSpare) break;
    }
  }
}

/**
 * Creates a bounded in-memory store: the default store of `createRateLimiter`, and its insurance.
 *
 * @example
 * const limiter = createRateLimiter({ store: memoryRateLimitStore({ maxKeys: 10_000 }), policies });
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): MemoryRateLimitStore {
  return new MemoryRateLimitStore(options);
}
