// A retry budget: retries may add at most a share of the calls made, so retrying cannot multiply an outage.

import { type Clock, systemClock } from '../clock/index.ts';
import { checkClock, checkNumber } from '../shared/options.ts';
import { RollingCounters } from './sliding-window.ts';

/** Options of `retryBudget`. */
export interface RetryBudgetOptions {
  /** Retries allowed as a share of first attempts in the window (0.1 = at most 10% extra load). @default 0.1 */
  ratio?: number;
  /** Retries per second always allowed, so a quiet service can still retry. @default 1 */
  minPerSecond?: number;
  /** Milliseconds the shares are counted over. @default 10_000 */
  window?: number;
  /** Time source. @default systemClock() */
  clock?: Clock;
}

const defaultOptions = { ratio: 0.1, minPerSecond: 1, window: 10_000 };

const CALLS = 0;
const RETRIES = 1;

/**
 * Counts first attempts and retries over a rolling window; `tryRetry()` says whether one more retry fits.
 * Share one budget between every retry policy that calls the same dependency.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.2 });
 * const a = retry({ maxAttempts: 3, budget });
 * const b = retry({ maxAttempts: 5, budget }); // both draw on the same 20%
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #clock: Clock;
  readonly #counts: RollingCounters;

  constructor(options: RetryBudgetOptions = {}) {
    const { ratio, minPerSecond, window } = { ...defaultOptions, ...options };
    this.#ratio = checkNumber('retryBudget', 'ratio', ratio, { min: 0 });
    const perSecond = checkNumber('retryBudget', 'minPerSecond', minPerSecond, { min: 0 });
    const windowMs = checkNumber('retryBudget', 'window', window, { min: 0, above: true });
    this.#reserve = (perSecond * windowMs) / 1000;
    this.#clock = checkClock('retryBudget', options.clock ?? systemClock());
    this.#counts = new RollingCounters(windowMs, 10, 2);
  }

  /** Records a first attempt: it earns `ratio` of a retry. */
  recordCall(): void {
    this.#counts.add(this.#clock.monotonic(), CALLS);
  }

  /** Takes one retry from the budget when it has room; false means "do not retry". */
  tryRetry(): boolean {
    const now = this.#clock.monotonic();
    this.#counts.roll(now);
    const allowed = this.#reserve + this.#ratio * this.#counts.total(CALLS);
    if (this.#counts.total(RETRIES) + 1 > allowed) return false;
    this.#counts.add(now, RETRIES);
    return true;
  }

  /** Calls and retries in the current window, for an admin page. */
  stats(): { calls: number; retries: number; allowed: number } {
    this.#counts.roll(this.#clock.monotonic());
    const calls = this.#counts.total(CALLS);
    return { calls, retries: this.#counts.total(RETRIES), allowed: this.#reserve + this.#ratio * calls };
  }
}

/**
 * Creates a retry budget; see `RetryBudget`.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.1, minPerSecond: 2 });
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  return new RetryBudget(options);
}
