// The breaker that guards L2 and bus calls when the caller brings none.

import type { Clock } from '../clock/index.ts';
import { circuitBreaker, type Policy } from '../policy/index.ts';

/**
 * A circuit breaker tuned for a cache's L2: judged over the last 20 calls (at least 5), opening at 50% failures,
 * probing again every second with one call, however long the outage (no growing backoff: a probe is one cheap
 * command, and the cache answers from L1 and loads meanwhile). With the reconnect delay of
 * `recommendedClientOptions` (at most 1 s), L2 serves again within about 2 s of Redis answering
 * (`npm run bench:redis-recovery`). Pass your own `l2Breaker` to `createCache` for other timings.
 *
 * @example
 * createCache({ name: 'cases', l2, l2Breaker: defaultL2Breaker('cases', clock) });
 */
export function defaultL2Breaker(cache: string, clock: Clock): Policy {
  return circuitBreaker({
    name: `cache:${cache}:l2`,
    window: { type: 'count', size: 20 },
    minimumCalls: 5,
    failureRateThreshold: 0.5,
    halfOpenAfter: { initial: 1_000, max: 1_000 },
    halfOpenProbes: 1,
    clock,
  });
}
