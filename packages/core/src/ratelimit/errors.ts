// Codes of the rate-limit module, the 429 error a limited decision maps to, and a guard for it.

import { defineErrors, type ErrorCodeOf, type HeadroomError } from '../errors/index.ts';
import { rateLimitHeader, rateLimitPolicyHeader, retryAfterSeconds } from './headers.ts';
import type { RateLimitDecision } from './rate-limit-policy.ts';

/** Codes of the rate-limit module; every code here is documented in docs/errors.md. */
export const rateLimitErrors = defineErrors({
  HR_RATE_LIMITED: { status: 429, stack: false },
  /** A programming error: `check` named a policy the limiter was not given. */
  HR_RATE_LIMIT_UNKNOWN_POLICY: { status: 500, stack: true },
  // The store's two failures reach listeners of `onStoreError`, never a client (the insurance store decides);
  // the cause carries the driver's own stack.
  HR_RATE_LIMIT_STORE_FAILED: { status: 503, stack: false },
  HR_RATE_LIMIT_STORE_TIMEOUT: { status: 503, stack: false },
});

/** One of the codes in {@link rateLimitErrors}. */
export type RateLimitErrorCode = ErrorCodeOf<typeof rateLimitErrors>;

/** The rate-limit codes as constants. */
export const rateLimitErrorCodes = rateLimitErrors.codes;

/**
 * The 429 for a limited decision: `context.policy` names the violated policy, `violated_policies` lists it
 * (the member of the draft's quota-exceeded problem type, in the snake_case of every Headroom body) and
 * `retry_after_ms` says when a retry can pass; `headers` carry Retry-After, RateLimit and RateLimit-Policy, so
 * an error handler can copy them onto the response. `violated-policies` and `retryAfterMs` are the same
 * values under their old names, kept for one release.
 *
 * @example
 * const decision = await limiter.check(key, 'pro');
 * if (!decision.allowed) throw rateLimitedError(decision);
 */
export function rateLimitedError(decision: RateLimitDecision): HeadroomError {
  const { policy } = decision;
  const seconds = retryAfterSeconds(decision);
  return rateLimitErrors.create(
    'HR_RATE_LIMITED',
    `rate limit "${policy.name}" exceeded (${policy.limit} per ${policy.window} ms); retry in ${seconds} s`,
    {
      context: {
        policy: policy.name,
        violated_policies: [policy.name],
        limit: policy.limit,
        window: policy.window,
        burst: policy.burst,
        retry_after_ms: decision.retryAfterMs,
        // Deprecated spellings of violated_policies and retry_after_ms, removed in the next release.
        'violated-policies': [policy.name],
        retryAfterMs: decision.retryAfterMs,
      },
      headers: {
        'retry-after': String(seconds),
        ratelimit: rateLimitHeader(decision),
        'ratelimit-policy': rateLimitPolicyHeader(policy),
      },
    },
  );
}

/**
 * True for the 429 of `rateLimitedError`, also when created by another installed copy of `@headroom/core`.
 *
 * @example
 * if (isRateLimitedError(e)) metrics.limited.inc({ policy: String(e.context.policy) });
 */
export function isRateLimitedError(value: unknown): value is HeadroomError<'HR_RATE_LIMITED'> {
  return rateLimitErrors.is(value, 'HR_RATE_LIMITED');
}
