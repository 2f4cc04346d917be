export type { RateLimitErrorCode } from './errors.ts';
export { isRateLimitedError, rateLimitErrorCodes, rateLimitErrors, rateLimitedError } from './errors.ts';
export type { GcraOutcome, GcraParams, StoreDecision } from './gcra.ts';
export { gcra, gcraEpsilonMs } from './gcra.ts';
export type { RateLimitHeaderOptions } from './headers.ts';
export { rateLimitHeader, rateLimitHeaders, rateLimitPolicyHeader, retryAfterSeconds } from './headers.ts';
export type { MemoryRateLimitStoreOptions } from './memory-store.ts';
export { MemoryRateLimitStore, memoryRateLimitStore } from './memory-store.ts';
export type { RateLimitKey, RateLimitScope } from './rate-limit-key.ts';
export { isRateLimitKey, rateLimitKey } from './rate-limit-key.ts';
export type { RateLimitDecision, RateLimitPolicy, ResolvedRateLimitPolicy } from './rate-limit-policy.ts';
export { gcraParams, rateLimitPolicy } from './rate-limit-policy.ts';
export type {
  CheckOptions,
  DecisionSource,
  RateLimitDecisionEvent,
  RateLimiterOptions,
  RateLimiterStats,
  RateLimitFallbackEvent,
  RateLimitRecoverEvent,
  RateLimitStoreErrorEvent,
} from './rate-limiter.ts';
export { createRateLimiter, RateLimiter } from './rate-limiter.ts';
export type { RateLimitStore } from './store.ts';
export type { TierPolicies, TierPoliciesOptions } from './tier-policies.ts';
export { tierPolicies } from './tier-policies.ts';
