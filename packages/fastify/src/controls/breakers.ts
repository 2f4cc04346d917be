// The operator's levers on the app's circuit breakers: reset, isolate and release, by name. One instance per app
// holds the isolations (the plugin makes it), so a breaker isolated from the page can be released from the admin
// API and the other way round.

import type { CircuitBreakerPolicy } from '@headroom/core/policy';
import type { Protection } from '../protection.ts';
import { notFound } from './not-found.ts';

/** What {@link breakerControls} returns; each control answers with the breaker's stats after it. */
export interface BreakerControls {
  /** Every tracked breaker's stats and whether it is critical (`GET /admin/breakers`). */
  list(): ReturnType<BreakerControls['reset']>[];
  /** Closes the breaker and forgets its window; releases the isolation these controls hold. */
  reset(name: string): ReturnType<CircuitBreakerPolicy['stats']> & { critical: boolean };
  /** Holds the breaker open until released or reset (once: isolating twice holds one isolation). */
  isolate(name: string): ReturnType<BreakerControls['reset']>;
  /** Lets go of the isolation these controls hold. */
  release(name: string): ReturnType<BreakerControls['reset']>;
}

/**
 * The controls of `protection`'s breakers; an unknown name throws 404 HR_NOT_FOUND.
 *
 * @example
 * const breakers = breakerControls(app.headroom.protection);
 * breakers.reset('enrichment').state; // 'closed'
 */
export function breakerControls(protection: Protection): BreakerControls {
  const isolations = new Map<string, { dispose(): void }>();
  const tracked = (name: string) => {
    const found = protection.breakers.get(name);
    if (!found) throw notFound('circuit breaker', 'breaker', name);
    return found;
  };
  const stats = (name: string) => {
    const { breaker, critical } = tracked(name);
    return { ...breaker.stats(), critical };
  };
  const release = (name: string) => {
    tracked(name);
    isolations.get(name)?.dispose();
    isolations.delete(name);
    return stats(name);
  };
  return {
    list: () => [...protection.breakers.keys()].map(stats),
    reset(name) {
      release(name);
      tracked(name).breaker.reset();
      return stats(name);
    },
    isolate(name) {
      const { breaker } = tracked(name);
      if (!isolations.has(name)) isolations.set(name, breaker.isolate());
      return stats(name);
    },
    release,
  };
}
