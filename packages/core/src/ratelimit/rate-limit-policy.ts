// A rate-limit policy (sustained rate plus burst), its validation, and the decision a limiter answers with.

import { invalidOption } from '../errors/index.ts';
import type { GcraParams } from './gcra.ts';

/** A quota: `limit` requests per `window` ms sustained, and up to `burst` at once. */
export interface RateLimitPolicy {
  /** Identifies the policy in headers and errors, e.g. `'pro'`; printable ASCII. */
  readonly name: string;
  /** Requests per window at the sustained rate (an integer >= 1). */
  readonly limit: number;
  /** The window in milliseconds (an integer >= 1). */
  readonly window: number;
  /** Requests a full bucket allows at once (an integer >= 1). @default limit */
  readonly burst?: number;
}

/** A policy with every field set, as `rateLimitPolicy` returns it. */
export interface ResolvedRateLimitPolicy extends RateLimitPolicy {
  readonly burst: number;
}

/** The answer of `limiter.check`. */
export interface RateLimitDecision {
  allowed: boolean;
  /** The policy the request was checked against. */
  policy: ResolvedRateLimitPolicy;
  /** The policy's limit (requests per window). */
  limit: number;
  /** Requests left in the bucket after this one. */
  remaining: number;
  /** Milliseconds until the bucket is full again (the RateLimit header's `t` when allowed). */
  resetMs: number;
  /** Milliseconds until the request would be allowed; 0 when allowed. */
  retryAfterMs: number;
}

// Printable ASCII is what an RFC 8941 sf-string may hold; the header functions escape `"` and `\`.
const printableAscii = /^[\x20-\x7e]+$/;

/**
 * Checks a policy and fills in `burst`; a bad field throws HR_INVALID_OPTION naming it.
 *
 * @example
 * const pro = rateLimitPolicy({ name: 'pro', limit: 600, window: 60_000, burst: 50 });
 */
export function rateLimitPolicy(policy: RateLimitPolicy): ResolvedRateLimitPolicy {
  const where = `rateLimitPolicy(${JSON.stringify(policy?.name)})`;
  if (typeof policy !== 'object' || policy === null)
    throw invalidOption('rateLimitPolicy', 'policy', 'an object', policy);
  const { name, limit, window, burst = limit } = policy;
  if (typeof name !== 'string' || !printableAscii.test(name) || name.length > 64) {
    throw invalidOption(where, 'name', 'printable ASCII, 1 to 64 characters', name);
  }
  for (const [option, value] of [
    ['limit', limit],
    ['window', window],
    ['burst', burst],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw invalidOption(where, option, 'an integer >= 1', value);
  }
  return Object.freeze({ name, limit, window, burst });
}

/**
 * The GCRA parameters of a policy, with its limit and burst divided by `divisor` (rounded up, at least 1)
 * when each of `divisor` instances enforces its share locally.
 *
 * @example
 * const params = gcraParams(rateLimitPolicy({ name: 'pro', limit: 600, window: 60_000 })); // 100 ms, 600
 */
export function gcraParams(policy: ResolvedRateLimitPolicy, divisor = 1): GcraParams {
  const limit = Math.max(1, Math.ceil(policy.limit / divisor));
  const burst = Math.max(1, Math.ceil(policy.burst / divisor));
  return { emissionIntervalMs: policy.window / limit, burst };
}
