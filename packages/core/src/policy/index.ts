// Also in @headroom/core/errors, where they live now; kept here so existing imports keep working.
export { abortedError, isAbortedError } from '../errors/index.ts';
export { sleep } from '../shared/abort.ts';
export type { Disposable, Subscribe } from '../shared/events.ts';
export type {
  AdaptiveLimitOptions,
  AdaptiveLimitStats,
  LimitChange,
  PermitOutcome,
} from './adaptive-limit.ts';
export { AdaptiveLimitPolicy, AdaptivePermit, adaptiveLimit } from './adaptive-limit.ts';
export type { BackoffOptions, Jitter } from './backoff.ts';
export { Backoff } from './backoff.ts';
export type { BulkheadOptions, BulkheadRejection, BulkheadRejectReason, BulkheadStats } from './bulkhead.ts';
export { BulkheadPermit, BulkheadPolicy, bulkhead } from './bulkhead.ts';
export { CircuitBreakerPolicy, circuitBreaker } from './circuit-breaker.ts';
export type {
  CircuitBreakerOptions,
  CircuitBreakerTuning,
  CircuitRejection,
  CircuitSnapshot,
  CircuitState,
  CircuitStateChange,
  CircuitStats,
  HalfOpenBackoff,
} from './circuit-breaker-options.ts';
export type { PolicyErrorCode } from './errors.ts';
export {
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isIsolatedCircuitError,
  isTimeoutError,
  policyErrorCodes,
  policyErrors,
} from './errors.ts';
export { eventLoopSaturation } from './event-loop.ts';
export type { FairQueueOptions, FairQueueRefusal, FairQueueStats, RefusalError } from './fair-queue.ts';
export { FairQueue, fairQueue } from './fair-queue.ts';
export type { FallbackEvent, FallbackOptions } from './fallback.ts';
export { FallbackPolicy, fallback } from './fallback.ts';
export type { GradientLimitOptions } from './gradient-limit.ts';
export { GradientLimit } from './gradient-limit.ts';
export type { AdaptiveDelay, HedgeEvent, HedgeOptions } from './hedge.ts';
export { HedgePolicy, hedge } from './hedge.ts';
export type { ExecuteOptions, Policy, PolicyContext, PolicyTask } from './policy.ts';
export type { RetryBudgetEvent, RetryEvent, RetryOptions } from './retry.ts';
export { RetryPolicy, retry } from './retry.ts';
export type { RetryBudgetOptions } from './retry-budget.ts';
export { RetryBudget, retryBudget } from './retry-budget.ts';
export type { SlidingWindowOptions } from './sliding-window.ts';
export type { TimeoutEvent, TimeoutOptions } from './timeout.ts';
export { TimeoutPolicy, timeout } from './timeout.ts';
export type { ForeignPolicy } from './wrap.ts';
export { WrappedPolicy, wrap } from './wrap.ts';
