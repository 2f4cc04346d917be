// Throttling of failed logins without lock-out: failures count against the client, and against the account
// from that client, so guessing is slowed where it comes from while the owner's own client still gets in.

import { type RateLimitDecision, type RateLimiter, rateLimitedError } from '@headroom/core/ratelimit';
import type { RateLimitCheck } from '@headroom/fastify';

/** The failure buckets of one login attempt. */
export interface LoginThrottle {
  /** Rejects with 429 HR_RATE_LIMITED when a failure bucket of these checks has no failure left. */
  admit(checks: readonly RateLimitCheck[]): Promise<void>;
  /** Counts one failed attempt in every bucket. */
  failed(checks: readonly RateLimitCheck[]): Promise<void>;
}

/**
 * Builds the throttle over a limiter that knows the checks' policies. A successful login costs nothing;
 * only failures take from the buckets.
 *
 * @example
 * const throttle = loginThrottle(limits.limiter);
 * await throttle.admit(checks);
 * if (!ok) await throttle.failed(checks);
 */
export function loginThrottle(limiter: RateLimiter): LoginThrottle {
  return {
    async admit(checks) {
      for (const { key, policy } of checks) {
        // Cost 0 looks without taking: is one more failure still allowed?
        const decision = await limiter.check(key, policy, { cost: 0 });
        if (decision.remaining < 1) throw rateLimitedError(refusedForOne(decision));
      }
    },
    async failed(checks) {
      for (const { key, policy } of checks) await limiter.check(key, policy, { cost: 1 });
    },
  };
}

// A look (cost 0) at an empty bucket is allowed; the refusal it stands for is that of one more failure,
// possible once one cell has drained: `resetMs` less the time the other burst − 1 cells take.
function refusedForOne(decision: RateLimitDecision): RateLimitDecision {
  const { policy } = decision;
  const interval = policy.window / policy.limit;
  const retryAfterMs = Math.max(1, Math.ceil(decision.resetMs - (policy.burst - 1) * interval));
  return { ...decision, allowed: false, remaining: 0, retryAfterMs };
}
