// Runs a loader under the hard timeout: its signal aborts at the deadline and the run rejects with
// HR_CACHE_LOAD_TIMEOUT, whether or not the loader stops. Also the soft-timeout race of a caller holding a stale value.

import type { Clock, Timer } from '../clock/index.ts';
import type { CacheKey } from './cache-key.ts';
import { loadTimeoutError } from './errors.ts';

/** What a loader is handed. */
export interface LoadContext<T> {
  /** Aborts at the hard timeout, or when the cache closes. Loads are shared between callers, so one caller going
   * away does not abort it. */
  readonly signal: AbortSignal;
  readonly key: CacheKey;
  /** The value being refreshed, when there is one (stale-while-revalidate, grace). */
  readonly stale: T | undefined;
}

/** Produces the value for a key; `undefined` or `null` mean "not found" (see `negativeTtl`). */
export type Loader<T> = (context: LoadContext<T>) => Promise<T> | T;

/**
 * Calls `loader` with a context whose signal aborts at `hardTimeout`; rejects with HR_CACHE_LOAD_TIMEOUT then.
 *
 * @example
 * const value = await runLoader(loader, context, controller, clock, 500, 'cases');
 */
export async function runLoader<T>(
  loader: Loader<T>,
  context: LoadContext<T>,
  controller: AbortController,
  clock: Clock,
  hardTimeout: number,
  cache: string,
): Promise<T> {
  if (!Number.isFinite(hardTimeout)) return await loader(context);
  let timer: Timer | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => {
      const error = loadTimeoutError(cache, hardTimeout);
      controller.abort(error);
      reject(error);
    }, hardTimeout);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => loader(context)), deadline]);
  } finally {
    timer?.cancel();
  }
}
