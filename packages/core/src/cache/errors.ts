// Codes of the cache module, and guards that recognise them across duplicate installs of @headroom/core.

import { HeadroomError, isHeadroomError } from '../errors/index.ts';

/** Codes the cache rejects with; every code here is documented in docs/errors.md. */
export const cacheErrorCodes = {
  HR_CACHE_LOAD_TIMEOUT: 'HR_CACHE_LOAD_TIMEOUT',
  HR_CACHE_INVALID_KEY: 'HR_CACHE_INVALID_KEY',
  HR_CACHE_SERIALIZE: 'HR_CACHE_SERIALIZE',
  HR_CACHE_CLOSED: 'HR_CACHE_CLOSED',
} as const;

/**
 * True when a loader ran past its hard timeout and no stale value could stand in for it.
 *
 * @example
 * const body = await cache.getOrSet(key, load, { hardTimeout: 500 }).catch((e) => {
 *   if (isCacheLoadTimeoutError(e)) return fallbackBody;
 *   throw e;
 * });
 */
export function isCacheLoadTimeoutError(value: unknown): value is HeadroomError {
  return isHeadroomError(value) && value.code === cacheErrorCodes.HR_CACHE_LOAD_TIMEOUT;
}

/**
 * The error for a loader that missed its hard timeout.
 *
 * @example
 * controller.abort(loadTimeoutError('cases', 500));
 */
export function loadTimeoutError(cache: string, ms: number): HeadroomError {
  return new HeadroomError(
    cacheErrorCodes.HR_CACHE_LOAD_TIMEOUT,
    `cache "${cache}": loader gave no value within ${ms} ms`,
    {
      status: 504,
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
  return new HeadroomError(cacheErrorCodes.HR_CACHE_INVALID_KEY, `cache key: ${rule}, got ${shown}`, {
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
  return new HeadroomError(
    cacheErrorCodes.HR_CACHE_SERIALIZE,
    `cache "${cache}": value could not be serialized`,
    {
      cause,
      context: { cache },
    },
  );
}

/**
 * The error for a call on a cache after `close()`.
 *
 * @example
 * if (this.#closed) throw closedError(this.name);
 */
export function closedError(cache: string): HeadroomError {
  return new HeadroomError(cacheErrorCodes.HR_CACHE_CLOSED, `cache "${cache}" is closed`, {
    context: { cache },
  });
}
