// An in-process GCRA store, bounded twice over: a key whose TAT has passed holds no information and is
// dropped, and past `maxKeys` the least recently updated key goes.

import { checkNumber, withDefaults } from '../policy/options.ts';
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

// Expired keys examined at the old end of the map per write: amortised sweeping with no timer, which keeps
// the store free of background work and of any clock of its own.
const sweepPerWrite = 2;

/**
 * A `RateLimitStore` in a Map. TATs only; `now` is the caller's.
 *
 * @example
 * const store = new MemoryRateLimitStore({ maxKeys: 10_000 });
 */
export class MemoryRateLimitStore implements RateLimitStore {
  // Insertion order is recency order: a write deletes and re-inserts, so the oldest writes come first.
  readonly #tats = new Map<string, number>();
  readonly #maxKeys: number;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    const o = withDefaults(defaultOptions, options);
    this.#maxKeys = checkNumber('memoryRateLimitStore', 'maxKeys', o.maxKeys, { min: 1, integer: true });
  }

  /** Keys held now. */
  get size(): number {
    return this.#tats.size;
  }

  decide(key: string, params: GcraParams, now: number, cost: number): Promise<StoreDecision> {
    return Promise.resolve(this.decideSync(key, params, now, cost));
  }

  /** `decide` without the promise, for callers that know the store is local. */
  decideSync(key: string, params: GcraParams, now: number, cost: number): StoreDecision {
    const tats = this.#tats;
    const stored = tats.get(key);
    const outcome = gcra(stored, now, params, cost);
    if (outcome.allowed && cost > 0) {
      if (stored !== undefined) tats.delete(key);
      tats.set(key, outcome.tat);
      this.#sweep(now);
    }
    return outcome;
  }

  #sweep(now: number): void {
    const tats = this.#tats;
    let examined = 0;
    for (const [key, tat] of tats) {
      if (tats.size > this.#maxKeys || tat <= now) tats.delete(key);
      else if (++examined >= sweepPerWrite) break;
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
