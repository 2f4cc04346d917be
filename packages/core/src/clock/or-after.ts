// A wait bounded on a clock: whichever comes first, the work's answer or a fallback once the time has passed.

import type { Clock, Timer } from './clock.ts';

/**
 * Settles with `work`, or with `fallback` once `ms` pass first (the work goes on).
 *
 * @example
 * return await orAfter(flight, clock, options.timeout, staleEntry);
 */
export async function orAfter<T>(work: Promise<T>, clock: Clock, ms: number, fallback: T): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<T>((resolve) => {
    timer = clock.setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    timer?.cancel();
  }
}
