// Public API of @headroom/fastify: the plugin, request-id server options and the problem codes.

export type { AdminAccess, AdminOptions } from './admin.ts';
export { arrivedAt } from './arrival.ts';
export type { CacheRegistry } from './cache-metrics.ts';
export type { ConnectionOptionsInput, ConnectionServerOptions, ConnectionTimeouts } from './connections.ts';
export { answerClientError, connectionOptions, defaultConnectionTimeouts } from './connections.ts';
export type { EntityTag } from './entity-tags.ts';
export { noneMatch, parseEntityTag, parseEntityTags, strongMatch, weakMatch } from './entity-tags.ts';
export type { FastifyErrorCode } from './errors.ts';
export { fastifyErrorCodes, fastifyErrors } from './errors.ts';
export type { HealthCheck, Readiness, ReadinessResult } from './health.ts';
export type { HttpCacheOptions } from './http-cache.ts';
export { bytesEtag, cacheControl } from './http-cache.ts';
export type { RequestIdempotency, RouteIdempotency } from './idempotency-hook.ts';
export type { OverloadGate, OverloadOptions } from './overload.ts';
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
export type { FieldError } from './validation.ts';
export type { ValidatorCompilerOptions } from './validator-compiler.ts';
export { validatorCompiler } from './validator-compiler.ts';
