// Logging a repeated event once per burst: the first of a kind goes out, the next ones within the window are only
// counted, and the next that goes out says how many it stood for. An outage that fails a thousand calls a second
// is one line every ten seconds.

import type { Clock } from '@headroom/core/clock';

/**
 * Calls `log(suppressed)` for the first event of `key`, then at most once per `window` ms, with how many events
 * of that key were left out since the last call.
 *
 * @example
 * const once = inBursts(clock);
 * worker.onError((e) => once(e.operation, (suppressed) => log.warn({ err: e.error, suppressed }, 'worker failed')));
 */
export function inBursts(
  clock: Clock,
  window = 10_000,
): (key: string, log: (suppressed: number) => void) => void {
  const bursts = new Map<string, { until: number; suppressed: number }>();
  return (key, log) => {
    const now = clock.monotonic();
    const burst = bursts.get(key);
    if (burst && now < burst.until) {
      burst.suppressed++;
      return;
    }
    bursts.set(key, { until: now + window, suppressed: 0 });
    log(burst?.suppressed ?? 0);
  };
}
