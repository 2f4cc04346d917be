// How long to wait before another attempt: exponential growth with jitter, shared by the retry policy and the
// job queue's retries.

import { checkFunction, checkNumber, checkOneOf, withDefaults } from '../shared/options.ts';

/** How the wait before a retry is spread: full jitter, decorrelated jitter, or none (plain exponential). */
export type Jitter = 'full' | 'decorrelated' | 'none';

/** Options of a {@link Backoff}. */
export interface BackoffOptions {
  /** Milliseconds of the first backoff. @default 100 */
  initialDelay?: number;
  /** Upper bound of any backoff. @default 10_000 */
  maxDelay?: number;
  /** Growth of the backoff per attempt. @default 2 */
  multiplier?: number;
  /** @default 'full' */
  jitter?: Jitter;
  /** Uniform random numbers in [0, 1). @default Math.random */
  random?: () => number;
}

const defaultOptions = {
  initialDelay: 100,
  maxDelay: 10_000,
  multiplier: 2,
  jitter: 'full' as Jitter,
  random: Math.random,
};

/**
 * Backoff delays. Full jitter: uniform in [0, exponential]; decorrelated: uniform in [initial, 3 × previous],
 * capped; none: the exponential itself (initial × multiplier^(retry − 1), capped at `maxDelay`).
 *
 * @example
 * const backoff = new Backoff({ initialDelay: 1_000, maxDelay: 60_000 });
 * backoff.delay(3); // somewhere in [0, 4_000]
 */
export class Backoff {
  readonly initialDelay: number;
  readonly #max: number;
  readonly #multiplier: number;
  readonly #jitter: Jitter;
  readonly #random: () => number;

  /** `owner` names the API whose options these are, in option errors. */
  constructor(options: BackoffOptions = {}, owner = 'backoff') {
    const o = withDefaults(defaultOptions, options ?? {});
    this.initialDelay = checkNumber(owner, 'initialDelay', o.initialDelay, { min: 0 });
    this.#max = checkNumber(owner, 'maxDelay', o.maxDelay, { min: this.initialDelay });
    this.#multiplier = checkNumber(owner, 'multiplier', o.multiplier, { min: 1 });
    this.#jitter = checkOneOf(owner, 'jitter', o.jitter, ['full', 'decorrelated', 'none'] as const);
    this.#random = checkFunction(owner, 'random', o.random);
  }

  /** Milliseconds before retry number `retry` (1 for the first); `previous` is the last delay (decorrelated). */
  delay(retry: number, previous = this.initialDelay): number {
    const exponential = Math.min(this.#max, this.initialDelay * this.#multiplier ** (retry - 1));
    switch (this.#jitter) {
      case 'none':
        return exponential;
      case 'full':
        return this.#random() * exponential;
      case 'decorrelated':
        return Math.min(this.#max, this.initialDelay + this.#random() * (previous * 3 - this.initialDelay));
    }
  }
}
