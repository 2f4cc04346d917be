// The breaker that guards L2 and bus calls when the caller brings none.

import type { Clock } from '../clock/index.ts';
import { circuitBreaker, type Policy } from '../policy/index.ts';

/**
 * A circuit breaker tuned for a cache's L2: judged over the last 20 calls (at least 5), opening at 50% failures,
 * probing again after one second with one call. A Redis outage then costs each instance a handful of timed-out
 * commands, and recovery takes about a second once Redis answers again.
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
    halfOpenAfter: 1_000,
    halfOpenProbes: 1,
    clock,
  });
}
