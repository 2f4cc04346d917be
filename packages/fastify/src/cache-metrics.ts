// The app's caches, as metrics and admin see them: `app.headroom.caches.add(cache)` subscribes to the
// cache's events (the cache itself knows nothing of Prometheus).

import type { Cache } from '@headroom/core/cache';
import { invalidOption } from '@headroom/core/errors';
import type { CircuitBreakerPolicy, Policy } from '@headroom/core/policy';
import { Counter, Histogram, type Registry } from 'prom-client';
import { CounterFamily, type CounterSeries } from './metric-series.ts';
import type { Protection } from './protection.ts';
import { traceEvent } from './timing.ts';

/**
 * What `app.headroom.caches` offers.
 *
 * @example
 * const cases = app.headroom.caches.add(createCache({ name: 'cases', l2, bus }));
 */
export interface CacheRegistry {
  /**
   * Tracks a cache: request, load and bus-lag metrics, admin stats and invalidation; and the breaker guarding
   * its L2 (`cache:<name>:l2`) joins the app's breakers. Returns it.
   */
  add(cache: Cache): Cache;
  readonly caches: ReadonlyMap<string, Cache>;
}

/**
 * Registers the cache metrics in `registry`: `headroom_cache_requests_total{cache,tier,result}`,
 * `headroom_cache_loads_total{cache,kind,outcome}`, `headroom_cache_load_duration_seconds{cache}`,
 * `headroom_cache_bus_lag_seconds{cache}` and `headroom_cache_errors_total{cache,operation}`; and in `protection`,
 * each cache's L2 breaker is tracked there, so its state and transitions are in `headroom_breaker_state` and
 * `headroom_breaker_transitions_total` like any other dependency's.
 *
 * @example
 * const caches = createCacheRegistry(registry, protection);
 */
export function createCacheRegistry(registry: Registry, protection: Protection): CacheRegistry {
  const caches = new Map<string, Cache>();
  const requests = new CounterFamily({
    name: 'headroom_cache_requests_total',
    help: 'Cache lookups by tier (l1, l2) and result (hit, miss, stale, error).',
    labelNames: ['cache', 'tier', 'result'] as const,
    registers: [registry],
  });
  const loads = new Counter({
    name: 'headroom_cache_loads_total',
    help: 'Loader calls by kind (load, refresh) and outcome (ok, error, timeout).',
    labelNames: ['cache', 'kind', 'outcome'] as const,
    registers: [registry],
  });
  const loadSeconds = new Histogram({
    name: 'headroom_cache_load_duration_seconds',
    help: 'Time a loader took.',
    labelNames: ['cache'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const busLag = new Histogram({
    name: 'headroom_cache_bus_lag_seconds',
    help: 'From an invalidation published by another instance to this instance hearing it.',
    labelNames: ['cache'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'headroom_cache_errors_total',
    help: 'L2 and bus failures the cache absorbed (the caller got L1 or the loader instead).',
    labelNames: ['cache', 'operation'] as const,
    registers: [registry],
  });
  return {
    caches,
    add(cache) {
      if (caches.has(cache.name)) {
        throw invalidOption('app.headroom.caches.add', 'name', 'a name no registered cache has', cache.name);
      }
      trackL2Breaker(protection, cache.l2Breaker);
      caches.set(cache.name, cache);
      // A hit is the hot path: a series is found by tier, then result, with no label string built per hit.
      const children = new Map<string, Map<string, CounterSeries>>();
      cache.onRequest((e) => {
        let byResult = children.get(e.tier);
        if (byResult === undefined) {
          byResult = new Map();
          children.set(e.tier, byResult);
        }
        let child = byResult.get(e.result);
        if (child === undefined) {
          child = requests.labels(e.cache, e.tier, e.result);
          byResult.set(e.result, child);
        }
        child.inc();
        traceEvent('headroom.cache', {
          'headroom.cache': e.cache,
          'headroom.cache.tier': e.tier,
          'headroom.cache.result': e.result,
        });
      });
      cache.onLoad((e) => {
        loads.inc({ cache: e.cache, kind: e.refresh ? 'refresh' : 'load', outcome: e.outcome });
        loadSeconds.observe({ cache: e.cache }, e.durationMs / 1000);
      });
      cache.onBusMessage((e) => busLag.observe({ cache: e.cache }, Math.max(0, e.lagMs) / 1000));
      cache.onError((e) => errors.inc({ cache: e.cache, operation: e.operation }));
      return cache;
    },
  };
}

// An L2 outage and its recovery then show where every breaker does (gauge, transitions, admin, /health as a
// warning: the breaker is never critical, since the cache answers from L1 and loads while it is open). An
// `l2Breaker` that is no circuit breaker (a `wrap`, a user's own policy) has no state to show. One breaker
// shared by several caches is tracked once.
function trackL2Breaker(protection: Protection, policy: Policy | undefined): void {
  if (!isCircuitBreaker(policy)) return;
  if (protection.breakers.get(policy.name)?.breaker === policy) return;
  protection.breaker(policy);
}

// By shape rather than instanceof: the app's copy of @headroom/core need not be this package's.
function isCircuitBreaker(policy: Policy | undefined): policy is CircuitBreakerPolicy {
  const breaker = policy as Partial<CircuitBreakerPolicy> | undefined;
  return (
    typeof breaker?.name === 'string' &&
    typeof breaker.onStateChange === 'function' &&
    typeof breaker.stats === 'function' &&
    typeof breaker.isolate === 'function' &&
    typeof breaker.reset === 'function'
  );
}
