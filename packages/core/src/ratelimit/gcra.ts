// The generic cell rate algorithm as one pure function: every store (memory, the Redis Lua script) computes
// exactly this, so a decision does not depend on where the state lives.

/** What a store needs of a policy to run GCRA on one key. */
export interface GcraParams {
  /** Milliseconds between two cells at the sustained rate: `window / limit`. */
  readonly emissionIntervalMs: number;
  /** Cells a full bucket holds: how many requests may arrive at once. */
  readonly burst: number;
}

/** The answer of a store for one key. */
export interface StoreDecision {
  allowed: boolean;
  /** Cells left after this request (0 when limited and nothing is left). */
  remaining: number;
  /** Milliseconds until the bucket is full again (integer, rounded up). */
  resetMs: number;
  /** Milliseconds until a request of this cost would be allowed; 0 when allowed (integer, rounded up). */
  retryAfterMs: number;
}

/** A decision and the theoretical arrival time (TAT) a store should keep for the key afterwards. */
export interface GcraOutcome extends StoreDecision {
  /** The TAT to store: unchanged when limited or when cost is 0. */
  tat: number;
}

/**
 * Slack, in milliseconds, for floating-point error: timestamps near 1.8e12 ms have a resolution of about
 * 0.25 µs, so a boundary that is exact on paper can land a few ulps either side. 10 µs is far below anything
 * a client can observe. The Lua script uses the same constant and the same order of operations.
 */
export const gcraEpsilonMs = 0.01;

/**
 * Runs GCRA for one request of `cost` cells at `now`, given the key's stored TAT (undefined when absent).
 * A request is allowed when, after adding its cost, the TAT lies no more than `burst` intervals ahead of now.
 *
 * @example
 * const params = { emissionIntervalMs: 100, burst: 10 }; // 600 per minute, bursts of 10
 * const first = gcra(undefined, now, params, 1); // { allowed: true, remaining: 9, resetMs: 100, tat: now + 100 }
 */
export function gcra(
  storedTat: number | undefined,
  now: number,
  params: GcraParams,
  cost: number,
): GcraOutcome {
  const interval = params.emissionIntervalMs;
  const tolerance = params.burst * interval;
  const tat = storedTat !== undefined && storedTat > now ? storedTat : now;
  const newTat = tat + cost * interval;
  const allowAt = newTat - tolerance;
  if (allowAt - now > gcraEpsilonMs) {
    return {
      allowed: false,
      remaining: cells(tolerance - (tat - now), interval, params.burst),
      resetMs: ceilMs(tat - now),
      retryAfterMs: ceilMs(allowAt - now),
      tat,
    };
  }
  return {
    allowed: true,
    remaining: cells(tolerance - (newTat - now), interval, params.burst),
    resetMs: ceilMs(newTat - now),
    retryAfterMs: 0,
    tat: newTat,
  };
}

function cells(ms: number, interval: number, burst: number): number {
  const n = Math.floor((ms + gcraEpsilonMs) / interval);
  return n <= 0 ? 0 : n > burst ? burst : n;
}

function ceilMs(ms: number): number {
  const n = Math.ceil(ms - gcraEpsilonMs);
  return n <= 0 ? 0 : n; // never -0: Math.ceil(-0.01) is -0
}
