// The timings of the suggestions route's policies: the defaults of casebook.yaml's `suggestions` (settings.ts),
// and how a settings section becomes them.

import type { Settings } from '../settings.ts';

/** The timings of the suggestions policies. */
export interface SuggestionsTuning {
  /** Per upstream attempt. */
  attemptTimeoutMs: number;
  /** For the whole call, retries included. */
  totalTimeoutMs: number;
  /** A call slower than this counts as slow for the breaker. */
  slowCallMs: number;
  /** Breaker's open time before the first probe (doubling while probes fail, up to `halfOpenMaxMs`). */
  halfOpenAfterMs: number;
  /**
   * The longest the breaker stays open between probes: once the upstream heals, it is probed (and closes)
   * within this, however long the outage was.
   */
  halfOpenMaxMs: number;
  /** How long an answer is fresh, and how long it may still be served when the upstream fails. */
  freshMs: number;
  staleMs: number;
  /** How long the route waits for the database to say the case exists before answering without it. */
  existsTimeoutMs: number;
  /** The breaker opens when this share of the window's calls failed. */
  failureRate: number;
}

export const defaultTuning: SuggestionsTuning = {
  attemptTimeoutMs: 120,
  totalTimeoutMs: 280,
  slowCallMs: 80,
  halfOpenAfterMs: 2_000,
  halfOpenMaxMs: 5_000,
  freshMs: 60_000,
  staleMs: 60 * 60_000,
  existsTimeoutMs: 150,
  failureRate: 0.5,
};

/** The tuning a `suggestions` section of the settings gives. */
export function suggestionsTuning(s: Settings['suggestions']): SuggestionsTuning {
  return {
    attemptTimeoutMs: s.attemptTimeout,
    totalTimeoutMs: s.totalTimeout,
    slowCallMs: s.breaker.slowCall,
    halfOpenAfterMs: s.breaker.halfOpenAfter,
    halfOpenMaxMs: s.breaker.halfOpenMax,
    freshMs: s.fresh,
    staleMs: s.stale,
    existsTimeoutMs: s.existsTimeout,
    failureRate: s.breaker.failureRate,
  };
}
