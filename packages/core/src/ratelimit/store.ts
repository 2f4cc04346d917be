// The one interface every rate-limit store implements; the limiter knows nothing else about storage.

import type { GcraParams, StoreDecision } from './gcra.ts';

/**
 * Keeps GCRA state per key and decides atomically. `now` comes from the caller's clock, so every instance and
 * every store agrees on time the same way, and a FakeClock drives tests. Implementations must pass
 * `rateLimitStoreContract` (store-contract.ts).
 *
 * @example
 * const store: RateLimitStore = memoryRateLimitStore({ maxKeys: 50_000 });
 * const d = await store.decide('t=acme/n=search/p=pro', { emissionIntervalMs: 100, burst: 10 }, clock.now(), 1);
 */
export interface RateLimitStore {
  /** Decides one request of `cost` cells on `key` at `now` (ms since the epoch) and records it if allowed. */
  decide(key: string, params: GcraParams, now: number, cost: number): Promise<StoreDecision>;
}
