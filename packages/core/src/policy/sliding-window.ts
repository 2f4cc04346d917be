// Sliding windows of counters: the breaker's count- and time-based outcome windows and the retry budget's
// rolling counts. Fixed-size rings updated in place, so recording allocates nothing.

/** How a window is measured: the last `size` calls, or the calls of the last `duration` ms. */
export type SlidingWindowOptions =
  | { type: 'count'; size: number }
  | {
      type: 'time';
      duration: number;
      /** Buckets the duration is cut into; the oldest bucket is forgotten as a whole. @default 10 */
      buckets?: number;
    };

/** Outcome totals of the calls a breaker currently judges. */
export interface OutcomeWindow {
  /** Calls, failures and slow calls as of the last `record` or `roll`. */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  record(now: number, failed: boolean, slow: boolean): void;
  /** Forgets what fell out of a time window by `now`; no-op for count windows. */
  roll(now: number): void;
  reset(): void;
  /** Replaces the contents with totals (from a snapshot), as if those calls had just been recorded. */
  restore(now: number, calls: number, failures: number, slowCalls: number): void;
}

/**
 * `width` counters summed over a time window cut into buckets; when time moves past a bucket its counts
 * are subtracted from the totals and it is reused, so the window forgets old calls bucket by bucket.
 *
 * @example
 * const counts = new RollingCounters(10_000, 10, 2); // 10 s in 1 s buckets, 2 counters
 * counts.add(clock.monotonic(), 0);
 * counts.total(0); // 1, until 10 s have passed
 */
export class RollingCounters {
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #width: number;
  readonly #counts: Float64Array;
  readonly #totals: Float64Array;
  #epoch = Number.NEGATIVE_INFINITY;

  constructor(duration: number, buckets: number, width: number) {
    this.#bucketMs = duration / buckets;
    this.#buckets = buckets;
    this.#width = width;
    this.#counts = new Float64Array(buckets * width);
    this.#totals = new Float64Array(width);
  }

  /** Moves the window to `now`, clearing the buckets it enters. */
  roll(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    if (epoch <= this.#epoch) return;
    const entering = Math.min(this.#buckets, epoch - this.#epoch);
    for (let e = epoch - entering + 1; e <= epoch; e++) {
      const base = this.#bucketOf(e) * this.#width;
      for (let f = 0; f < this.#width; f++) {
        this.#totals[f]! -= this.#counts[base + f]!;
        this.#counts[base + f] = 0;
      }
    }
    this.#epoch = epoch;
  }

  /** Adds `n` to counter `field` at time `now`. */
  add(now: number, field: number, n = 1): void {
    this.roll(now);
    this.#counts[this.#bucketOf(this.#epoch) * this.#width + field]! += n;
    this.#totals[field]! += n;
  }

  // Epochs map onto the ring; the modulo is kept positive for epochs before the clock's origin.
  #bucketOf(epoch: number): number {
    return ((epoch % this.#buckets) + this.#buckets) % this.#buckets;
  }

  /** The sum of counter `field` over the window, as of the last `add` or `roll`. */
  total(field: number): number {
    return this.#totals[field]!;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#totals.fill(0);
  }
}

const CALLS = 0;
const FAILURES = 1;
const SLOW = 2;

/**
 * A breaker window over the calls of the last `duration` ms, in `buckets` buckets.
 *
 * @example
 * const window = new TimeWindow(60_000, 60);
 * window.record(clock.monotonic(), true, false);
 */
export class TimeWindow implements OutcomeWindow {
  readonly #counters: RollingCounters;

  constructor(duration: number, buckets: number) {
    this.#counters = new RollingCounters(duration, buckets, 3);
  }

  get calls(): number {
    return this.#counters.total(CALLS);
  }
  get failures(): number {
    return this.#counters.total(FAILURES);
  }
  get slowCalls(): number {
    return this.#counters.total(SLOW);
  }

  record(now: number, failed: boolean, slow: boolean): void {
    this.#counters.add(now, CALLS);
    if (failed) this.#counters.add(now, FAILURES);
    if (slow) this.#counters.add(now, SLOW);
  }

  roll(now: number): void {
    this.#counters.roll(now);
  }

  reset(): void {
    this.#counters.reset();
  }

  restore(now: number, calls: number, failures: number, slowCalls: number): void {
    this.reset();
    this.#counters.add(now, CALLS, calls);
    this.#counters.add(now, FAILURES, failures);
    this.#counters.add(now, SLOW, slowCalls);
  }
}

const FAILED_BIT = 1;
const SLOW_BIT = 2;

/**
 * A breaker window over the last `size` calls: a ring of one byte per call plus running totals.
 *
 * @example
 * const window = new CountWindow(100);
 * window.record(0, false, true); // a successful but slow call
 */
export class CountWindow implements OutcomeWindow {
  readonly #outcomes: Uint8Array;
  #next = 0;
  #calls = 0;
  #failures = 0;
  #slowCalls = 0;

  constructor(size: number) {
    this.#outcomes = new Uint8Array(size);
  }

  get calls(): number {
    return this.#calls;
  }
  get failures(): number {
    return this.#failures;
  }
  get slowCalls(): number {
    return this.#slowCalls;
  }

  record(_now: number, failed: boolean, slow: boolean): void {
    const ring = this.#outcomes;
    if (this.#calls === ring.length) {
      const evicted = ring[this.#next]!;
      if (evicted & FAILED_BIT) this.#failures--;
      if (evicted & SLOW_BIT) this.#slowCalls--;
    } else {
      this.#calls++;
    }
    ring[this.#next] = (failed ? FAILED_BIT : 0) | (slow ? SLOW_BIT : 0);
    if (failed) this.#failures++;
    if (slow) this.#slowCalls++;
    this.#next = this.#next + 1 === ring.length ? 0 : this.#next + 1;
  }

  roll(_now: number): void {}

  reset(): void {
    this.#outcomes.fill(0);
    this.#next = 0;
    this.#calls = 0;
    this.#failures = 0;
    this.#slowCalls = 0;
  }

  restore(now: number, calls: number, failures: number, slowCalls: number): void {
    this.reset();
    const n = Math.min(calls, this.#outcomes.length);
    for (let i = 0; i < n; i++) this.record(now, i < failures, i < slowCalls);
  }
}

/**
 * Creates the outcome window `options` describe.
 *
 * @example
 * const window = outcomeWindow({ type: 'time', duration: 30_000, buckets: 30 });
 */
export function outcomeWindow(options: SlidingWindowOptions): OutcomeWindow {
  return options.type === 'count'
    ? new CountWindow(options.size)
    : new TimeWindow(options.duration, options.buckets ?? 10);
}
