// The options, events and snapshots of `circuitBreaker`, with their defaults and checks.

import type { Clock } from '../clock/index.ts';
import { invalidOption, isAbortedError } from '../errors/index.ts';
import { checkNumber } from '../shared/options.ts';
import type { SlidingWindowOptions } from './sliding-window.ts';

/** Where a breaker stands. `isolated` is open by an operator's hand and stays so until released. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** The wait before the first probe after opening, growing each time the probes fail. */
export interface HalfOpenBackoff {
  /** Milliseconds after the first opening. */
  initial: number;
  /** Upper bound of the wait. @default initial * 32 */
  max?: number;
  /** Factor applied each time the probes fail and the breaker opens again. @default 2 */
  multiplier?: number;
}

/** Options of `circuitBreaker`. */
export interface CircuitBreakerOptions {
  /** Name shown in events, snapshots, admin lists and metrics. @default 'breaker' */
  name?: string;
  /** Which calls are judged. @default { type: 'count', size: 100 } */
  window?: SlidingWindowOptions;
  /** Share of failed calls (0–1] in the window at or above which the breaker opens. @default 0.5 */
  failureRateThreshold?: number;
  /** A successful call that took at least this many ms counts as slow. @default Infinity (off) */
  slowCallDurationThreshold?: number;
  /** Share of slow calls (0–1] at or above which the breaker opens. @default 1 */
  slowCallRateThreshold?: number;
  /** Calls the window must hold before any rate is judged. @default 10 */
  minimumCalls?: number;
  /** Milliseconds open before probing, or a backoff that grows each time probing fails. @default 30_000 */
  halfOpenAfter?: number | HalfOpenBackoff;
  /** Calls let through while half-open; the breaker closes when their rates pass. @default 1 */
  halfOpenProbes?: number;
  /** Which errors count as failures. @default every error except the caller's own abort */
  isFailure?: (error: unknown) => boolean;
  /** A snapshot from `toJSON()` to start from (after a restart, say). */
  restore?: CircuitSnapshot;
  /** Time source. @default systemClock() */
  clock?: Clock;
}

/** A state change, as `onStateChange` listeners receive it. */
export interface CircuitStateChange {
  breaker: string;
  from: CircuitState;
  to: CircuitState;
  /** Why: the threshold crossed, the probes' verdict, or an operator action. */
  reason:
    | 'failure-rate'
    | 'slow-call-rate'
    | 'probe-failed'
    | 'probes-passed'
    | 'delay-elapsed'
    | 'isolate'
    | 'reset';
}

/** A call the breaker refused. */
export interface CircuitRejection {
  breaker: string;
  state: CircuitState;
}

/** What `toJSON()` returns and `restore` accepts: enough to carry a breaker across a restart. */
export interface CircuitSnapshot {
  name: string;
  state: CircuitState;
  /** Wall-clock ms when the breaker last opened (open, half-open, isolated). */
  openedAt?: number;
  /** How many times in a row probing has failed; sets the next half-open delay. */
  reopenings: number;
  window: { calls: number; failures: number; slowCalls: number };
}

/** Figures for an admin page. */
export interface CircuitStats extends CircuitSnapshot {
  failureRate: number;
  slowCallRate: number;
  /** Wall-clock ms when the next probe may run, while open. */
  probeAt?: number;
  /** Probes running or done in the current half-open period. */
  probes: number;
}

/** What `breaker.tune()` may change: the thresholds and the half-open timing. */
export type CircuitBreakerTuning = Pick<
  CircuitBreakerOptions,
  | 'failureRateThreshold'
  | 'slowCallDurationThreshold'
  | 'slowCallRateThreshold'
  | 'minimumCalls'
  | 'halfOpenAfter'
  | 'halfOpenProbes'
>;

/** Defaults of `circuitBreaker`'s options. */
export const circuitBreakerDefaults = {
  name: 'breaker',
  window: { type: 'count', size: 100 } as SlidingWindowOptions,
  failureRateThreshold: 0.5,
  slowCallDurationThreshold: Number.POSITIVE_INFINITY,
  slowCallRateThreshold: 1,
  minimumCalls: 10,
  halfOpenAfter: 30_000 as number | HalfOpenBackoff,
  halfOpenProbes: 1,
  isFailure: (error: unknown) => !isAbortedError(error),
};

/**
 * Returns `window` when it describes a count or a time window, else throws HR_INVALID_OPTION naming the field.
 *
 * @example
 * const window = checkWindow({ type: 'time', duration: 10_000 });
 */
export function checkWindow(window: SlidingWindowOptions): SlidingWindowOptions {
  if (window?.type === 'count') {
    checkNumber('circuitBreaker', 'window.size', window.size, { min: 1, integer: true });
    return window;
  }
  if (window?.type === 'time') {
    checkNumber('circuitBreaker', 'window.duration', window.duration, { min: 0, above: true });
    checkNumber('circuitBreaker', 'window.buckets', window.buckets ?? 10, { min: 1, integer: true });
    return window;
  }
  throw invalidOption(
    'circuitBreaker',
    'window',
    "{ type: 'count', size } or { type: 'time', duration }",
    window,
  );
}
