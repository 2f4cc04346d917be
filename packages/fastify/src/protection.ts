// Protection in a Fastify app: per-route rate limits (429 + IETF RateLimit headers) and concurrency limits
// (503 HR_OVERLOADED + Retry-After), and a registry of the app's breakers, bulkheads, retries and hedges
// that feeds metrics, health and the admin API. Policies know nothing of Prometheus; this file subscribes.

import { HeadroomError } from '@headroom/core/errors';
import {
  type BulkheadPermit,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type HedgePolicy,
  isBulkheadRejectedError,
  type RetryPolicy,
} from '@headroom/core/policy';
import {
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitKey,
  type RateLimitPolicy,
  rateLimitedError,
  rateLimitHeader,
  rateLimitPolicyHeader,
} from '@headroom/core/ratelimit';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { fastifyErrorCodes } from './errors.ts';
import { CounterFamily, type CounterSeries } from './metric-series.ts';

/** One rate-limit check of a request: which bucket, under which policy. */
export interface RateLimitCheck {
  key: RateLimitKey;
  policy: string | RateLimitPolicy;
  /** Tokens this request takes. @default 1 */
  cost?: number;
}

/** `config.rateLimit` of a route. Checks run after authentication and body parsing, before validation. */
export interface RouteRateLimit {
  limiter: RateLimiter;
  /** The buckets a request draws from (per tenant, per client address, per account...); none = no limit. */
  checks: (request: FastifyRequest) => readonly RateLimitCheck[] | undefined;
}

/** `config.concurrency` of a route: the handler runs inside the bulkhead. */
export interface RouteConcurrency {
  limiter: BulkheadPolicy;
  /** The fair-share key (the tenant). @default none: one shared pool */
  key?: (request: FastifyRequest) => string | undefined;
  /** Seconds in the Retry-After of a 503. @default 1 */
  retryAfter?: number;
}

/** A breaker known to the app; `critical` ones make `/health/ready` fail while open. */
export interface TrackedBreaker {
  breaker: CircuitBreakerPolicy;
  critical: boolean;
}

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
  /** Tracks a bulkhead (in-flight gauge, rejections counter). Returns it. */
  bulkhead(bulkhead: BulkheadPolicy): BulkheadPolicy;
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
  readonly bulkheads: ReadonlyMap<string, BulkheadPolicy>;
}

/** A rate-limit hook, callback style (a decision made in this process needs no promise). */
export type RateLimitHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void;

const stateValue = { closed: 0, 'half-open': 1, open: 2, isolated: 2 } as const;

/**
 * Creates the protection registry and its metrics in `registry`.
 *
 * @example
 * const protection = createProtection(registry);
 */
export function createProtection(registry: Registry): Protection {
  const breakers = new Map<string, TrackedBreaker>();
  const bulkheads = new Map<string, BulkheadPolicy>();
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
  const rejected = new Counter({
    name: 'headroom_concurrency_rejected_total',
    help: 'Calls a concurrency limiter refused, by reason (full, queue-timeout, evicted).',
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
      throw new HeadroomError('HR_INVALID_OPTION', `a ${kind} named "${name}" is already registered`, {
        context: { option: 'name', value: name },
      });
    }
    named.add(`${kind}:${name}`);
  };

  const protection: Protection = {
    breakers,
    bulkheads,
    rateLimitHook: (config) => rateLimitHook(config, protection),
    breaker(breaker, options = {}) {
      claim('breaker', breaker.name);
      breakers.set(breaker.name, { breaker, critical: options.critical ?? false });
      breaker.onStateChange((e) => transitions.inc({ breaker: e.breaker, from: e.from, to: e.to }));
      return breaker;
    },
    bulkhead(bulkhead) {
      claim('bulkhead', bulkhead.name);
      bulkheads.set(bulkhead.name, bulkhead);
      bulkhead.onReject((e) => rejected.inc({ limiter: e.bulkhead, reason: e.reason }));
      return bulkhead;
    },
    retry(name, policy) {
      claim('retry', name);
      policy.onRetry(() => retries.inc({ policy: name, outcome: 'retried' }));
      policy.onBudgetExhausted(() => retries.inc({ policy: name, outcome: 'budget-exhausted' }));
      return policy;
    },
    hedge(name, policy) {
      claim('hedge', name);
      policy.onHedge(() => hedges.inc({ policy: name }));
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
      });
      return limiter;
    },
  };
  return protection;
}

/**
 * Adds the hooks a route's `config.rateLimit` and `config.concurrency` ask for; called from `onRoute`.
 *
 * @example
 * app.addHook('onRoute', (route) => protectRoute(route, protection));
 */
export function protectRoute(route: RouteOptions, protection: Protection): void {
  const config = route.config as { rateLimit?: RouteRateLimit; concurrency?: RouteConcurrency } | undefined;
  if (config?.rateLimit) {
    const hook = rateLimitHook(config.rateLimit, protection);
    route.preValidation = [hook, ...[route.preValidation ?? []].flat()];
  }
  if (config?.concurrency) {
    const { limiter, key, retryAfter = 1 } = config.concurrency;
    if (!protection.bulkheads.has(limiter.name)) protection.bulkhead(limiter);
    const handler = route.handler;
    const overloaded = (error: unknown) =>
      new HeadroomError(fastifyErrorCodes.HR_OVERLOADED, `${limiter.name} is at capacity; retry shortly`, {
        status: 503,
        cause: error,
        headers: { 'retry-after': String(retryAfter) },
        context: { limiter: limiter.name },
        stack: false,
      });
    // The slot is held until the handler settles: the handler cannot be stopped half-way, so a client that
    // leaves frees nothing early. Waiting is what a client that leaves gives up (`clientGone`).
    const queued = async (self: unknown, request: FastifyRequest, reply: FastifyReply, slot?: string) => {
      let permit: BulkheadPermit;
      try {
        permit = await limiter.acquire(slot, clientGone(request));
      } catch (error) {
        throw isBulkheadRejectedError(error) ? overloaded(error) : error;
      }
      return holding(permit, handler, self, request, reply);
    };
    route.handler = function limitedHandler(this: unknown, request, reply) {
      const slot = key?.(request);
      // A free slot is taken at once, with no promise, signal or listener for the limiter itself.
      const permit = limiter.tryAcquire(slot);
      if (permit) return holding(permit, handler, this, request, reply);
      return queued(this, request, reply, slot);
    };
  }
}

// Runs `handler` holding `permit`, and releases it when the handler returns, throws or settles.
function holding(
  permit: BulkheadPermit,
  handler: RouteOptions['handler'],
  self: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): unknown {
  let result: unknown;
  try {
    result = handler.call(self as never, request, reply);
  } catch (error) {
    permit.release();
    throw error;
  }
  if (!(result instanceof Promise)) {
    permit.release();
    return result;
  }
  return result.then(
    (value) => {
      permit.release();
      return value;
    },
    (error: unknown) => {
      permit.release();
      throw error;
    },
  );
}

// An AbortSignal that aborts when the client closes the connection before the answer.
function clientGone(request: FastifyRequest): AbortSignal {
  const controller = new AbortController();
  const raw = request.raw;
  const onClose = () => {
    if (!raw.complete || raw.socket?.destroyed) controller.abort(new Error('client closed the connection'));
  };
  raw.socket?.once('close', onClose);
  raw.once('close', () => raw.socket?.off('close', onClose));
  return controller.signal;
}

function rateLimitHook(config: RouteRateLimit, protection: Protection): RateLimitHook {
  protection.rateLimiter(config.limiter);
  // The RateLimit-Policy value depends only on the policy objects: built once per policy (or pair), not per request.
  const policyHeaders = new WeakMap<object, string>();
  const policyHeader = (decisions: readonly RateLimitDecision[]) => {
    if (decisions.length !== 1) return rateLimitPolicyHeader(decisions.map((d) => d.policy));
    const policy = decisions[0]!.policy;
    let value = policyHeaders.get(policy);
    if (value === undefined) {
      value = rateLimitPolicyHeader(policy);
      policyHeaders.set(policy, value);
    }
    return value;
  };
  const apply = (reply: FastifyReply, decisions: readonly RateLimitDecision[]): void => {
    let worst: RateLimitDecision | undefined;
    for (const d of decisions) {
      // The violated policy that frees up last decides Retry-After; every policy still shows in the headers.
      if (!d.allowed && (worst === undefined || d.retryAfterMs > worst.retryAfterMs)) worst = d;
    }
    if (worst !== undefined) {
      const error = rateLimitedError(worst);
      error.headers['ratelimit-policy'] = policyHeader(decisions);
      error.headers.ratelimit = rateLimitHeader(decisions);
      throw error;
    }
    reply.header('ratelimit-policy', policyHeader(decisions));
    reply.header('ratelimit', rateLimitHeader(decisions));
  };
  // Callback style: with a store in this process a single check decides at once, and makes no promise.
  return function checkRateLimits(request, reply, done): void {
    let decisions: Promise<RateLimitDecision[]>;
    try {
      const checks = config.checks(request);
      if (!checks || checks.length === 0) {
        done();
        return;
      }
      if (checks.length === 1) {
        const check = checks[0]!;
        const now = config.limiter.checkSync(check.key, check.policy, costOf(check));
        if (now !== undefined) {
          apply(reply, [now]);
          done();
          return;
        }
      }
      decisions = Promise.all(checks.map((c) => config.limiter.check(c.key, c.policy, costOf(c))));
    } catch (error) {
      done(error as Error);
      return;
    }
    decisions.then(
      (all) => {
        try {
          apply(reply, all);
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      },
      (error: Error) => done(error),
    );
  };
}

const costOf = (check: RateLimitCheck) => (check.cost === undefined ? undefined : { cost: check.cost });
