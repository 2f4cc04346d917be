// Choosing a policy by plan tier: plain config in, a lookup that falls back to a named tier out.

import { invalidOption } from '../errors/index.ts';
import { type RateLimitPolicy, type ResolvedRateLimitPolicy, rateLimitPolicy } from './rate-limit-policy.ts';

/** Options of `tierPolicies`. */
export interface TierPoliciesOptions<T extends string> {
  /** The tier used for an unknown or missing tier; usually the least generous one. */
  fallback: T;
}

/** Picks the policy of a tier; an unknown, empty or missing tier gets the fallback tier's policy. */
export interface TierPolicies<T extends string> {
  (tier: string | null | undefined): ResolvedRateLimitPolicy;
  /** Every tier's policy, to hand to `createRateLimiter({ policies })`. */
  readonly policies: readonly ResolvedRateLimitPolicy[];
  readonly tiers: readonly T[];
}

/**
 * Validates one policy per tier and returns a function choosing among them. An unknown tier never gets more
 * than the fallback tier, so a typo in an account's plan cannot unlock a bigger quota.
 *
 * @example
 * const byTier = tierPolicies({
 *   free: { name: 'free', limit: 60, window: 60_000 },
 *   pro: { name: 'pro', limit: 600, window: 60_000 },
 *   enterprise: { name: 'enterprise', limit: 6000, window: 60_000, burst: 1000 },
 * }, { fallback: 'free' });
 * const limiter = createRateLimiter({ policies: byTier.policies });
 * await limiter.check(rateLimitKey({ tenant: account.tenantId }, 'search'), byTier(account.plan));
 */
export function tierPolicies<T extends string>(
  config: Readonly<Record<T, RateLimitPolicy>>,
  options: TierPoliciesOptions<NoInfer<T>>,
): TierPolicies<T> {
  const byTier = new Map<string, ResolvedRateLimitPolicy>();
  for (const [tier, policy] of Object.entries(config) as [T, RateLimitPolicy][]) {
    byTier.set(tier, rateLimitPolicy(policy));
  }
  const fallback = byTier.get(options?.fallback);
  if (!fallback) {
    throw invalidOption(
      'tierPolicies',
      'fallback',
      `one of the tiers (${[...byTier.keys()].join(', ')})`,
      options?.fallback,
    );
  }
  const pick = (tier: string | null | undefined) => (tier ? byTier.get(tier) : undefined) ?? fallback;
  return Object.assign(pick, {
    policies: Object.freeze([...new Set(byTier.values())]),
    tiers: Object.freeze([...byTier.keys()] as T[]),
  });
}
