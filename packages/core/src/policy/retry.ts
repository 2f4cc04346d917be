// retry: try again after a backoff with jitter, when the error is retryable and the budget has room.

import { type Clock, systemClock } from '../clock/index.ts';
import { abortedError, isAbortedError, isHeadroomError } from '../errors/index.ts';
import { sleep } from '../shared/abort.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkFunction, checkNumber, withDefaults } from '../shared/options.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { isBrokenCircuitError, isBulkheadRejectedError } from './errors.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';
import type { RetryBudget } from './retry-budget.ts';

/** Options of `retry`: the attempts, and the backoff between them (`initialDelay`, `maxDelay`, `multiplier`, `jitter`, `random`). */
export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first included. @default 3 */
  maxAttempts?: number;
  /** Shared budget that caps retries as a share of calls. @default none (only maxAttempts bounds retries) */
  budget?: RetryBudget;
  /**
   * Which errors are worth another attempt. @default every error except the caller's abort, a refusal by a
   * breaker or a bulkhead, and a HeadroomError with a 4xx status
   */
  retryable?: (error: unknown, attempt: number) => boolean;
  /** Time source. @default systemClock() */
  clock?: Clock;
}

/** Emitted before each retry. */
export interface RetryEvent {
  /** The attempt about to run: 1 for the first retry. */
  attempt: number;
  /** Milliseconds waited before it. */
  delay: number;
  error: unknown;
}

/** Emitted when a retry was wanted but the budget had no room. */
export interface RetryBudgetEvent {
  attempt: number;
  error: unknown;
}

const defaultRetryable = (error: unknown): boolean => {
  if (isAbortedError(error) || isBrokenCircuitError(error) || isBulkheadRejectedError(error)) return false;
  return !(isHeadroomError(error) && error.status >= 400 && error.status < 500);
};

const defaultOptions = {
  maxAttempts: 3,
  retryable: defaultRetryable as (error: unknown, attempt: number) => boolean,
};

/**
 * The retry policy; create it with `retry(options)`.
 *
 * @example
 * const policy = retry({ maxAttempts: 4, jitter: 'decorrelated', budget: retryBudget() });
 * policy.onRetry((e) => log.info(e, 'retrying'));
 */
export class RetryPolicy extends PolicyBase {
  readonly #maxAttempts: number;
  readonly #backoff: Backoff;
  readonly #budget: RetryBudget | undefined;
  readonly #retryable: (error: unknown, attempt: number) => boolean;
  readonly #clock: Clock;
  readonly #retried = new Emitter<RetryEvent>();
  readonly #refused = new Emitter<RetryBudgetEvent>();

  /** Subscribes to retries, with the delay chosen and the error that caused them. */
  readonly onRetry: Subscribe<RetryEvent> = this.#retried.subscribe;
  /** Subscribes to retries the budget refused. */
  readonly onBudgetExhausted: Subscribe<RetryBudgetEvent> = this.#refused.subscribe;

  constructor(options: RetryOptions = {}) {
    super();
    const o = withDefaults(defaultOptions, options);
    this.#maxAttempts = checkNumber('retry', 'maxAttempts', o.maxAttempts, { min: 1, integer: true });
    this.#backoff = new Backoff(o, 'retry');
    this.#retryable = checkFunction('retry', 'retryable', o.retryable);
    this.#clock = checkClock('retry', o.clock ?? systemClock());
    this.#budget = o.budget;
  }

  async [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T> {
    this.#budget?.recordCall();
    let previousDelay = this.#backoff.initialDelay;
    for (let tries = 0; ; tries++) {
      if (signal?.aborted) throw abortedError(signal);
      try {
        return await next(fn, signal, key, attempt + tries, chain, depth);
      } catch (error) {
        const retry = tries + 1;
        if (retry >= this.#maxAttempts || signal?.aborted || !this.#retryable(error, retry)) throw error;
        if (this.#budget && !this.#budget.tryRetry()) {
          if (this.#refused.active) this.#refused.emit({ attempt: retry, error });
          throw error;
        }
        previousDelay = this.#backoff.delay(retry, previousDelay);
        if (this.#retried.active) this.#retried.emit({ attempt: retry, delay: previousDelay, error });
        if (previousDelay > 0) await sleep(this.#clock, previousDelay, signal);
      }
    }
  }
}

/**
 * Retries failed attempts up to `maxAttempts` with exponential backoff and jitter, only for `retryable`
 * errors and only while the shared `budget` (if any) has room; waiting is cut short when the signal aborts.
 * The attempt number reaches the function as `context.attempt`.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.1 });
 * const policy = retry({ maxAttempts: 3, initialDelay: 50, jitter: 'full', budget });
 * await policy.execute(({ attempt }) => client.get(url, { attempt }));
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
