// Codes of the cache module, and guards that recognise them across duplicate installs of @headroom/core.

import { defineErrors, type ErrorCodeOf, type HeadroomError } from '../errors/index.ts';

/** Codes the cache rejects with; every code here is documented in docs/errors.md. */
export const cacheErrors = defineErrors({
  HR_CACHE_LOAD_TIMEOUT: { status: 504, stack: false },
  /** A programming error: a key or tag built from a bad scope or part. */
  HR_CACHE_INVALID_KEY: { status: 500, stack: true },
  HR_CACHE_SERIALIZE: { status: 500, stack: true },
  /** A call after `close()`: during shutdown, a planned state rather than a fault. */
  HR_CACHE_CLOSED: { status: 503, stack: false },
});

/** One of the codes in {@link cacheErrors}. */
export type CacheErrorCode = ErrorCodeOf<typeof cacheErrors>;

/** The cache codes as constants. */
export const cacheErrorCodes = cacheErrors.codes;

/**
 * True when a loader ran past its hard timeout and no stale value could stand in for it.
 *
 * @example
 * const body = await cache.getOrSet(key, load, { hardTimeout: 500 }).catch((e) => {
 *   if (isCacheLoadTimeoutError(e)) return fallbackBody;
 *   throw e;
 * });
 */
export function isCacheLoadTimeoutError(value: unknown): value is HeadroomError<'HR_CACHE_LOAD_TIMEOUT'> {
  return cacheErrors.is(value, 'HR_CACHE_LOAD_TIMEOUT');
}

/**
 * The error for a loader that missed its hard timeout.
 *
 * @example
 * controller.abort(loadTimeoutError('cases', 500));
 */
export function loadTimeoutError(cache: string, ms: number): HeadroomError {
  return cacheErrors.create(
    'HR_CACHE_LOAD_TIMEOUT',
    `cache "${cache}": loader gave no value within ${ms} ms`,
    {
      context: { cache, timeout: ms },
    },
  );
}

/**
 * The error for a key part or scope that cannot make a cache key (an empty tenant, an object as a part).
 *
 * @example
 * throw invalidKeyError('tenant must be a non-empty string', scope);
 */
export function invalidKeyError(rule: string, value: unknown): HeadroomError {
  const shown = typeof value === 'symbol' ? String(value) : (JSON.stringify(value) ?? String(value));
  return cacheErrors.create('HR_CACHE_INVALID_KEY', `cache key: ${rule}, got ${shown}`, {
    context: { rule },
  });
}

/**
 * The error for a value the serializer could not turn into bytes (a BigInt, a cycle) or bytes it could not read.
 *
 * @example
 * throw serializeError('cases', error);
 */
export function serializeError(cache: string, cause: unknown): HeadroomError {
  return cacheErrors.create('HR_CACHE_SERIALIZE', `cache "${cache}": value could not be serialized`, {
    cause,
    context: { cache },
  });
}

/**
 * The error for a call on a cache after `close()`.
 *
 * @example
 * if (this.#closed) throw closedError(this.name);
 */
export function closedError(cache: string): HeadroomError {
  return cacheErrors.create('HR_CACHE_CLOSED', `cache "${cache}" is closed`, {
    context: { cache },
  });
}
