// The registry of an app's breakers, bulkheads, retries, hedges and rate limiters, and their metrics, which
// feed `/metrics`, `/health` and the admin API. Policies know nothing of Prometheus; this file subscribes.

import { type Clock, systemClock } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import type {
  AdaptiveLimitPolicy,
  BulkheadPolicy,
  CircuitBreakerPolicy,
  CircuitStateChange,
  HedgePolicy,
  RetryPolicy,
} from '@headroom/core/policy';
import type { RateLimiter } from '@headroom/core/ratelimit';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CounterFamily, type CounterSeries } from './metric-series.ts';
import {
  type RateLimitHook,
  type RouteRateLimit,
  rateLimitHook,
  type TenantTracking,
} from './rate-limit-hook.ts';
import { traceEvent } from './timing.ts';

/** A breaker known to the app; `critical` ones make `/health/ready` fail while open. */
export interface TrackedBreaker {
  breaker: CircuitBreakerPolicy;
  critical: boolean;
}

/** A breaker's change of state, when it happened (ms since the epoch, from the app's clock). */
export interface BreakerTransition extends CircuitStateChange {
  at: number;
}

/** A concurrency limiter: a bulkhead of fixed size, or an adaptive limit. */
export type ConcurrencyLimiter = BulkheadPolicy | AdaptiveLimitPolicy;

/**
 * What `app.headroom.protection` offers: register policies so their state shows in `/metrics`, `/health`
 * and the admin API.
 *
 * @example
 * const breaker = app.headroom.protection.breaker(circuitBreaker({ name: 'enrichment' }));
 * app.headroom.protection.retry('enrichment', retry({ maxAttempts: 2 }));
 */
export interface Protection {
  /** Tracks a breaker (state gauge, transitions counter, admin, /health). Returns it. */
  breaker(breaker: CircuitBreakerPolicy, options?: { critical?: boolean }): CircuitBreakerPolicy;
  /** Tracks a bulkhead or an adaptive limit (in-flight and limit gauges, rejections counter). Returns it. */
  bulkhead<L extends ConcurrencyLimiter>(bulkhead: L): L;
  /**
   * Counts a refusal a limiter did not make itself, in `headroom_concurrency_rejected_total` (the plugin's door:
   * `reason="saturated"` while the event loop stays saturated, `"full"` when it has no queue).
   */
  rejected(limiter: string, reason: string): void;
  /** Counts the retries of a retry policy under `name`. Returns it. */
  retry(name: string, policy: RetryPolicy): RetryPolicy;
  /** Counts the hedged attempts of a hedge policy under `name`. Returns it. */
  hedge(name: string, policy: HedgePolicy): HedgePolicy;
  /** Counts the decisions of a rate limiter (done for every limiter a route uses). Returns it. */
  rateLimiter(limiter: RateLimiter): RateLimiter;
  /**
   * The preValidation hook that enforces `config` on every route of a scope (what `config.rateLimit` does
   * for one route): `scope.addHook('preValidation', protection.rateLimitHook({ limiter, checks }))`.
   */
  rateLimitHook(config: RouteRateLimit): RateLimitHook;
  readonly breakers: ReadonlyMap<string, TrackedBreaker>;
  readonly bulkheads: ReadonlyMap<string, ConcurrencyLimiter>;
  /** The last {@link recentTransitions} state changes of every breaker, newest first. */
  transitions(): readonly BreakerTransition[];
  /** Where the rate-limit hooks built from here count their decisions by tenant. @default not counted */
  readonly tenantTracking: TenantTracking | undefined;
}

/** Breaker state changes kept for the operations page (the counter keeps the totals). */
export const recentTransitions = 50;

const stateValue = { closed: 0, 'half-open': 1, open: 2, isolated: 2 } as const;

/**
 * Creates the protection registry and its metrics in `registry`.
 *
 * @example
 * const protection = createProtection(registry, clock, { tenants: new RateLimitTenants({ clock }), tenantOf });
 */
export function createProtection(
  registry: Registry,
  clock: Clock = systemClock(),
  tenantTracking?: TenantTracking,
): Protection {
  const breakers = new Map<string, TrackedBreaker>();
  // Oldest first, at most recentTransitions: a breaker flapping every second keeps no more.
  const changes: BreakerTransition[] = [];
  const bulkheads = new Map<string, ConcurrencyLimiter>();
  const limiters = new Set<RateLimiter>();
  const named = new Set<string>();

  new Gauge({
    name: 'headroom_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open (or isolated).',
    labelNames: ['breaker'] as const,
    registers: [registry],
    collect() {
      for (const [name, { breaker }] of breakers) this.set({ breaker: name }, stateValue[breaker.state]);
    },
  });
  const transitions = new Counter({
    name: 'headroom_breaker_transitions_total',
    help: 'Circuit breaker state changes.',
    labelNames: ['breaker', 'from', 'to'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'headroom_concurrency_inflight',
    help: 'Calls running inside a concurrency limiter (bulkhead).',
    labelNames: ['limiter'] as const,
    registers: [registry],
    collect() {
      for (const [name, bulkhead] of bulkheads) this.set({ limiter: name }, bulkhead.inflight);
    },
  });
  new Gauge({
    name: 'headroom_concurrency_limit',
    help: 'Calls a concurrency limiter lets run at once now (an adaptive limit moves it).',
    labelNames: ['limiter'] as const,
    registers: [registry],
    collect() {
      for (const [name, limiter] of bulkheads) {
        this.set({ limiter: name }, 'limit' in limiter ? limiter.limit : limiter.stats().maxConcurrent);
      }
    },
  });
  const rejected = new Counter({
    name: 'headroom_concurrency_rejected_total',
    help: 'Calls a concurrency limiter refused, by reason (full, queue-timeout, evicted; the door: saturated).',
    labelNames: ['limiter', 'reason'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'headroom_retries_total',
    help: 'Retries, and retries refused by the retry budget (outcome="budget-exhausted").',
    labelNames: ['policy', 'outcome'] as const,
    registers: [registry],
  });
  const hedges = new Counter({
    name: 'headroom_hedges_total',
    help: 'Hedged attempts started.',
    labelNames: ['policy'] as const,
    registers: [registry],
  });
  const decisions = new CounterFamily({
    name: 'headroom_ratelimit_decisions_total',
    help: 'Rate-limit decisions by policy and result (allowed, limited) and source (store, insurance).',
    labelNames: ['policy', 'result', 'source'] as const,
    registers: [registry],
  });

  const claim = (kind: string, name: string) => {
    if (named.has(`${kind}:${name}`)) {
      throw invalidOption('app.headroom.protection', 'name', `a name no registered ${kind} has`, name);
    }
    named.add(`${kind}:${name}`);
  };

  const protection: Protection = {
    breakers,
    bulkheads,
    tenantTracking,
    rateLimitHook: (config) => rateLimitHook(config, protection),
    transitions: () => changes.toReversed(),
    breaker(breaker, options = {}) {
      claim('breaker', breaker.name);
      breakers.set(breaker.name, { breaker, critical: options.critical ?? false });
      breaker.onStateChange((e) => {
        transitions.inc({ breaker: e.breaker, from: e.from, to: e.to });
        changes.push({ ...e, at: clock.now() });
        if (changes.length > recentTransitions) changes.shift();
        traceEvent('headroom.breaker.transition', {
          'headroom.breaker': e.breaker,
          'headroom.breaker.from': e.from,
          'headroom.breaker.to': e.to,
        });
      });
      breaker.onReject((e) =>
        traceEvent('headroom.breaker.rejected', {
          'headroom.breaker': e.breaker,
          'headroom.breaker.state': e.state,
        }),
      );
      return breaker;
    },
    bulkhead(bulkhead) {
      claim('bulkhead', bulkhead.name);
      bulkheads.set(bulkhead.name, bulkhead);
      bulkhead.onReject((e) => {
        rejected.inc({ limiter: e.bulkhead, reason: e.reason });
        traceEvent('headroom.bulkhead.rejected', {
          'headroom.limiter': e.bulkhead,
          'headroom.reason': e.reason,
        });
      });
      return bulkhead;
    },
    rejected(limiter, reason) {
      rejected.inc({ limiter, reason });
    },
    retry(name, policy) {
      claim('retry', name);
      policy.onRetry(() => {
        retries.inc({ policy: name, outcome: 'retried' });
        traceEvent('headroom.retry', { 'headroom.policy': name, 'headroom.result': 'retried' });
      });
      policy.onBudgetExhausted(() => {
        retries.inc({ policy: name, outcome: 'budget-exhausted' });
        traceEvent('headroom.retry', { 'headroom.policy': name, 'headroom.result': 'budget-exhausted' });
      });
      return policy;
    },
    hedge(name, policy) {
      claim('hedge', name);
      policy.onHedge(() => {
        hedges.inc({ policy: name });
        traceEvent('headroom.hedge', { 'headroom.policy': name });
      });
      return policy;
    },
    rateLimiter(limiter) {
      if (limiters.has(limiter)) return limiter;
      limiters.add(limiter);
      // Every request decides at least once: a policy's series are found by its identity, with no label
      // string built per decision. Index: allowed/limited × store/insurance.
      const byPolicy = new WeakMap<object, CounterSeries[]>();
      const results = ['allowed', 'limited'] as const;
      const sources = ['store', 'insurance'] as const;
      limiter.onDecision((e) => {
        const policy = e.decision.policy;
        let series = byPolicy.get(policy);
        if (series === undefined) {
          series = results.flatMap((result) =>
            sources.map((source) => decisions.labels(policy.name, result, source)),
          );
          byPolicy.set(policy, series);
        }
        series[(e.decision.allowed ? 0 : 2) + (e.source === 'store' ? 0 : 1)]!.inc();
        traceEvent('headroom.ratelimit', {
          'headroom.policy': policy.name,
          'headroom.result': e.decision.allowed ? 'allowed' : 'limited',
          'headroom.source': e.source,
        });
      });
      return limiter;
    },
  };
  return protection;
}
