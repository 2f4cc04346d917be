// Time as a dependency: core code asks a Clock, tests hand in a FakeClock and move it by hand.

/** A handle to a scheduled callback; `cancel()` is idempotent. */
export interface Timer {
  cancel(): void;
}

/** Everything core code needs of time. */
export interface Clock {
  /** Milliseconds since the Unix epoch (wall time, for timestamps and expiry). */
  now(): number;
  /** Milliseconds from an arbitrary origin, never going back (for durations). */
  monotonic(): number;
  /** Runs `callback` once after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): Timer;
}

/**
 * The real clock, backed by `Date.now`, `performance.now` and unref'd timers.
 *
 * @example
 * const clock = systemClock();
 * const started = clock.monotonic();
 */
export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout(callback, ms) {
      const handle = setTimeout(callback, ms);
      handle.unref();
      return { cancel: () => clearTimeout(handle) };
    },
  };
}
