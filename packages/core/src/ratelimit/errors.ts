// Codes of the rate-limit module, the 429 error a limited decision maps to, and a guard for it.

import { HeadroomError, isHeadroomError } from '../errors/index.ts';
import { rateLimitHeader, rateLimitPolicyHeader, retryAfterSeconds } from './headers.ts';
import type { RateLimitDecision } from './rate-limit-policy.ts';

/** Codes of the rate-limit module; every code here is documented in docs/errors.md. */
export const rateLimitErrorCodes = {
  HR_RATE_LIMITED: 'HR_RATE_LIMITED',
  HR_RATE_LIMIT_UNKNOWN_POLICY: 'HR_RATE_LIMIT_UNKNOWN_POLICY',
  HR_RATE_LIMIT_STORE_FAILED: 'HR_RATE_LIMIT_STORE_FAILED',
  HR_RATE_LIMIT_STORE_TIMEOUT: 'HR_RATE_LIMIT_STORE_TIMEOUT',
} as const;

/**
 * The 429 for a limited decision: `context.policy` names the violated policy (and `violated-policies` lists
 * it, as the draft's quota-exceeded problem type does); `headers` carry Retry-After, RateLimit and
 * RateLimit-Policy, so an error handler can copy them onto the response.
 *
 * @example
 * const decision = await limiter.check(key, 'pro');
 * if (!decision.allowed) throw rateLimitedError(decision);
 */
export function rateLimitedError(decision: RateLimitDecision): HeadroomError {
  const { policy } = decision;
  const seconds = retryAfterSeconds(decision);
  return new HeadroomError(
    rateLimitErrorCodes.HR_RATE_LIMITED,
    `rate limit "${policy.name}" exceeded (${policy.limit} per ${policy.window} ms); retry in ${seconds} s`,
    {
      status: 429,
      context: {
        policy: policy.name,
        'violated-policies': [policy.name],
        limit: policy.limit,
        window: policy.window,
        burst: policy.burst,
        retryAfterMs: decision.retryAfterMs,
      },
      headers: {
        'retry-after': String(seconds),
        ratelimit: rateLimitHeader(decision),
        'ratelimit-policy': rateLimitPolicyHeader(policy),
      },
      stack: false,
    },
  );
}

/**
 * True for the 429 of `rateLimitedError`, also when created by another installed copy of `@headroom/core`.
 *
 * @example
 * if (isRateLimitedError(e)) metrics.limited.inc({ policy: String(e.context.policy) });
 */
export function isRateLimitedError(value: unknown): value is HeadroomError {
  return isHeadroomError(value) && value.code === rateLimitErrorCodes.HR_RATE_LIMITED;
}
