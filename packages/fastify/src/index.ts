// Public API of @headroom/fastify: the plugin, request-id server options and the problem codes.

export type { AdminAccess, AdminOptions } from './admin.ts';
export { arrivedAt } from './arrival.ts';
export { inBursts } from './bursts.ts';
export type { CacheRegistry } from './cache-metrics.ts';
export type { ConfigRegistry } from './config-registry.ts';
export type { ConnectionOptionsInput, ConnectionServerOptions, ConnectionTimeouts } from './connections.ts';
export { answerClientError, connectionOptions, defaultConnectionTimeouts } from './connections.ts';
export type { DegraderRegistry } from './degrader-registry.ts';
export type { EntityTag } from './entity-tags.ts';
export { noneMatch, parseEntityTag, parseEntityTags, strongMatch, weakMatch } from './entity-tags.ts';
export type { FastifyErrorCode } from './errors.ts';
export { fastifyErrorCodes, fastifyErrors } from './errors.ts';
export type { FlagRegistry } from './flag-registry.ts';
export type { HealthCheck, HealthReading, Readiness, ReadinessResult } from './health.ts';
export type { HttpCacheOptions } from './http-cache.ts';
export { bytesEtag, cacheControl } from './http-cache.ts';
export { durationBuckets, httpDurationBuckets } from './http-metrics.ts';
export type { RequestIdempotency, RouteIdempotency } from './idempotency-hook.ts';
export type { JobRegistry, TrackJobsOptions } from './job-registry.ts';
export type { OpsPageErrorCode } from './ops-page/errors.ts';
export { opsPageErrors } from './ops-page/errors.ts';
export type {
  BreakerControls,
  OpsCredentials,
  OpsPageDeps,
  OpsPageOptions,
  OpsSignIn,
  OpsState,
  SignInLimit,
} from './ops-page/ops-page.ts';
export { breakerControls, opsPage } from './ops-page/ops-page.ts';
export type { OverloadGate, OverloadOptions, SaturationOptions } from './overload.ts';
export type { PhaseMetrics, PhaseSpec } from './phase-metrics.ts';
export { phaseBuckets } from './phase-metrics.ts';
export type { HeadroomDecoration, HeadroomOptions } from './plugin.ts';
export { headroom } from './plugin.ts';
export type { Problem } from './problem.ts';
export type { ConcurrencyLimiter, Protection, TrackedBreaker } from './protection.ts';
export type { RateLimitCheck, RateLimitHook, RouteRateLimit } from './rate-limit-hook.ts';
export type { RequestIdServerOptions } from './request-id.ts';
export { requestIdOptions } from './request-id.ts';
export { lazyChildLogger } from './request-logger.ts';
export type { RouteConcurrency } from './route-protection.ts';
export { overloadedError } from './route-protection.ts';
export type { RumBeacon, RumMetricName, RumOptions } from './rum.ts';
export { rumRoutes } from './rum.ts';
export type { Shutdown, ShutdownOptions, ShutdownState, ShutdownStep } from './shutdown.ts';
export { sqlComment } from './sql-comment.ts';
export type { SystemCheckOptions } from './system-checks.ts';
export type { CostOptions, Showback, ShowbackRow } from './tenant-costs.ts';
export type { RoutedRequest } from './timing.ts';
export {
  currentRoute,
  currentTiming,
  phase,
  phaseSync,
  RequestTiming,
  timedHook,
  timingOf,
  traceAttributes,
  traceEvent,
  traceLogFields,
} from './timing.ts';
export type { TopTenantsOptions } from './top-tenants.ts';
export { TopTenants, tenantLabelValue } from './top-tenants.ts';
export { currentTraceparent, linkedSpan, tracedJob } from './trace-links.ts';
export type { FieldError } from './validation.ts';
export type { ValidatorCompilerOptions } from './validator-compiler.ts';
export { validatorCompiler } from './validator-compiler.ts';
export type { WebhookRegistry } from './webhook-registry.ts';
