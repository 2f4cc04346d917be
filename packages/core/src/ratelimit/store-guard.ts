// What stands between the limiter and a remote store: a deadline on every decision, an insurance memory store
// that decides when the store fails or is slow, and a cooldown during which the store is skipped (a small
// circuit: after it, one call probes the store).

import type { Clock } from '../clock/index.ts';
import { abortedError, HeadroomError } from '../errors/index.ts';
import { Emitter } from '../shared/events.ts';
import { aborted, DeadlineQueue, timedOut } from './deadline-queue.ts';
import { rateLimitErrors } from './errors.ts';
import type { GcraParams, StoreDecision } from './gcra.ts';
import { MemoryRateLimitStore } from './memory-store.ts';
import type { RateLimitKey } from './rate-limit-key.ts';
import type { RateLimitStore } from './store.ts';

/** Which store made a decision. */
export type DecisionSource = 'store' | 'insurance';

/** Emitted when the store failed or timed out; `error.cause` holds the store's own error. */
export interface RateLimitStoreErrorEvent {
  key: RateLimitKey;
  error: HeadroomError;
}

/** Emitted for every decision made by the insurance store, with the reason the store was not used. */
export interface RateLimitFallbackEvent {
  key: RateLimitKey;
  reason: 'error' | 'timeout' | 'circuit-open';
}

/** Emitted when the store answers again after failing; `downMs` is the time since its first failure. */
export interface RateLimitRecoverEvent {
  downMs: number;
}

/** One bucket's parameters as the guard needs them: in the store, and (divided) in the insurance store. */
export interface GuardedBucket {
  readonly params: GcraParams;
  readonly insurance: GcraParams;
  /** Appended to the caller's key: checks of different policies on one key never share a bucket. */
  readonly suffix: string;
}

/** What the guard needs: the store, the clock and the limits of its patience. */
export interface StoreGuardOptions {
  store: RateLimitStore;
  clock: Clock;
  /** How long a store call may take, in ms. */
  timeout: number;
  /** How long a failed store is skipped, in ms. */
  cooldown: number;
  insuranceMaxKeys: number;
}

/**
 * Decides on a remote store within a deadline, or locally. Internal to the limiter, which checks the options
 * and exposes the events.
 *
 * @example
 * const guard = new StoreGuard({ store, clock, timeout: 50, cooldown: 1000, insuranceMaxKeys: 100_000 });
 * const decision = await guard.decide(key, bucket, 1, signal, (d, source) => present(d, source));
 */
export class StoreGuard {
  readonly #store: RateLimitStore;
  readonly #insurance: MemoryRateLimitStore;
  readonly #clock: Clock;
  readonly #deadlines: DeadlineQueue;
  readonly #timeout: number;
  readonly #cooldown: number;
  readonly storeFailed = new Emitter<RateLimitStoreErrorEvent>();
  readonly fellBack = new Emitter<RateLimitFallbackEvent>();
  readonly recovered = new Emitter<RateLimitRecoverEvent>();
  readonly stats = { storeDecisions: 0, fallbackDecisions: 0, storeErrors: 0, storeTimeouts: 0 };
  /** Monotonic time until which the store is skipped; -Infinity while the circuit is closed. */
  #openUntil = Number.NEGATIVE_INFINITY;
  #downSince = 0;
  #probing = false;

  constructor(options: StoreGuardOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#timeout = options.timeout;
    this.#cooldown = options.cooldown;
    this.#insurance = new MemoryRateLimitStore({ maxKeys: options.insuranceMaxKeys });
    this.#deadlines = new DeadlineQueue(this.#clock, this.#timeout);
  }

  /** 'open' while the store is being skipped or probed. */
  get circuit(): 'closed' | 'open' {
    return this.#openUntil === Number.NEGATIVE_INFINITY ? 'closed' : 'open';
  }

  /**
   * Decides `cost` cells of `key`'s bucket at `now` (epoch ms), and hands the answer to `finish` with its
   * source (a callback, so a decision makes no result object). Store failures never reach the caller; an abort
   * of `signal` does.
   */
  async decide<T>(
    key: RateLimitKey,
    bucket: GuardedBucket,
    cost: number,
    now: number,
    signal: AbortSignal | undefined,
    finish: (decision: StoreDecision, source: DecisionSource) => T,
  ): Promise<T> {
    let reason: RateLimitFallbackEvent['reason'] = 'circuit-open';
    const closed = this.#openUntil === Number.NEGATIVE_INFINITY;
    if (closed || (!this.#probing && this.#clock.monotonic() >= this.#openUntil)) {
      if (!closed) this.#probing = true;
      let outcome: StoreDecision | typeof timedOut | typeof aborted | HeadroomError;
      try {
        outcome = await this.#deadlines.race(
          this.#store.decide(key + bucket.suffix, bucket.params, now, cost),
          signal,
        );
      } catch (error) {
        outcome = rateLimitErrors.create('HR_RATE_LIMIT_STORE_FAILED', 'the rate-limit store failed', {
          cause: error,
        });
      } finally {
        if (!closed) this.#probing = false;
      }
      if (outcome === aborted) throw abortedError(signal!);
      if (outcome !== timedOut && !(outcome instanceof HeadroomError)) {
        if (this.#openUntil !== Number.NEGATIVE_INFINITY) this.#close();
        this.stats.storeDecisions++;
        return finish(outcome, 'store');
      }
      reason = outcome === timedOut ? 'timeout' : 'error';
      this.#fail(key, outcome === timedOut ? this.#timeoutError() : outcome);
    }
    const local = this.#insurance.decideScoped(bucket.suffix, key, bucket.insurance, now, cost);
    this.stats.fallbackDecisions++;
    if (this.fellBack.active) this.fellBack.emit({ key, reason });
    return finish(local, 'insurance');
  }

  #fail(key: RateLimitKey, error: HeadroomError): void {
    if (error.code === 'HR_RATE_LIMIT_STORE_TIMEOUT') this.stats.storeTimeouts++;
    else this.stats.storeErrors++;
    const now = this.#clock.monotonic();
    if (this.#openUntil === Number.NEGATIVE_INFINITY) this.#downSince = now;
    this.#openUntil = now + this.#cooldown;
    if (this.storeFailed.active) this.storeFailed.emit({ key, error });
  }

  #close(): void {
    this.#openUntil = Number.NEGATIVE_INFINITY;
    if (this.recovered.active) this.recovered.emit({ downMs: this.#clock.monotonic() - this.#downSince });
  }

  #timeoutError(): HeadroomError {
    return rateLimitErrors.create(
      'HR_RATE_LIMIT_STORE_TIMEOUT',
      `the rate-limit store did not answer within ${this.#timeout} ms`,
      { context: { timeout: this.#timeout } },
    );
  }
}
