// The limiter: resolves a policy and decides, on a memory store directly, or on a remote store through the
// store guard (deadline, insurance store, cooldown; store-guard.ts).

import { type Clock, systemClock } from '../clock/index.ts';
import { abortedError, deprecatedOption, invalidOption } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkNumber, withDefaults } from '../shared/options.ts';
import { rateLimitErrors } from './errors.ts';
import type { GcraParams, StoreDecision } from './gcra.ts';
import { MemoryRateLimitStore } from './memory-store.ts';
import { isRateLimitKey, type RateLimitKey } from './rate-limit-key.ts';
import {
  gcraParams,
  type RateLimitDecision,
  type RateLimitPolicy,
  type ResolvedRateLimitPolicy,
  rateLimitPolicy,
} from './rate-limit-policy.ts';
import type { RateLimitStore } from './store.ts';
import {
  type DecisionSource,
  type RateLimitFallbackEvent,
  type RateLimitRecoverEvent,
  type RateLimitStoreErrorEvent,
  StoreGuard,
} from './store-guard.ts';

export type { DecisionSource, RateLimitFallbackEvent, RateLimitRecoverEvent, RateLimitStoreErrorEvent };

/** Options of `createRateLimiter`. */
export interface RateLimiterOptions {
  /** Policies `check` can name (`check(key, 'pro')`); a policy object can also be passed to `check` directly. */
  policies?: readonly RateLimitPolicy[];
  /** Where buckets live; a Redis store shares them across instances. @default a new memory store */
  store?: RateLimitStore;
  /** Time source for GCRA, the store timeout and the cooldown. @default systemClock() */
  clock?: Clock;
  /** How long to wait for the store before deciding locally, in ms. @default 50 */
  storeTimeout?: number;
  /** How long to skip the store after it failed or was slow, in ms; then one call probes it. @default 1000 */
  storeCooldown?: number;
  /** @deprecated renamed `storeTimeout` (same unit); this name goes in the next release. */
  storeTimeoutMs?: number;
  /** @deprecated renamed `storeCooldown` (same unit); this name goes in the next release. */
  cooldownMs?: number;
  /**
   * Instances sharing the store: while it is down, each instance enforces limit and burst divided by this
   * (rounded up), so together they stay near the shared quota. @default 1
   */
  insuranceDivisor?: number;
  /** Keys the insurance memory store holds at most. @default 100_000 */
  insuranceMaxKeys?: number;
}

/** Options of one `check`. */
export interface CheckOptions {
  /** Cells this request consumes (0 reads the bucket without consuming). @default 1 */
  cost?: number;
  /** Aborting rejects the check with HR_ABORTED. */
  signal?: AbortSignal;
  /**
   * When the request arrived, in epoch ms on the limiter's clock: it is charged then, not when it reached the
   * check, so requests held up by a dependency (authentication waiting on a database that froze) are not
   * charged all at once when it recovers. Clamped to the last minute; a time ahead of the clock counts as now.
   * @default now
   */
  at?: number;
}

/** How far back `at` may charge a request. */
const MAX_AGE_MS = 60_000;

function chargeTime(options: CheckOptions | undefined, now: number): number {
  const at = options?.at;
  if (at === undefined || !(at < now)) return now;
  return Math.max(at, now - MAX_AGE_MS);
}

/** Emitted for every decision. */
export interface RateLimitDecisionEvent {
  key: RateLimitKey;
  decision: RateLimitDecision;
  source: DecisionSource;
}

/** Counters since the limiter was created. */
export interface RateLimiterStats {
  decisions: number;
  storeDecisions: number;
  fallbackDecisions: number;
  storeErrors: number;
  storeTimeouts: number;
  /** 'open' while the store is being skipped or probed. */
  circuit: 'closed' | 'open';
}

const defaultOptions = {
  storeTimeout: 50,
  storeCooldown: 1000,
  insuranceDivisor: 1,
  insuranceMaxKeys: 100_000,
} satisfies Partial<RateLimiterOptions>;

interface Resolved {
  readonly policy: ResolvedRateLimitPolicy;
  readonly params: GcraParams;
  readonly insurance: GcraParams;
  /** Appended to the caller's key: checks of different policies on one key never share a bucket. */
  readonly suffix: string;
}

/**
 * A rate limiter over a store, with a local insurance store; create it with `createRateLimiter`.
 *
 * @example
 * const limiter = createRateLimiter({ store: redisRateLimitStore(redis), policies: byTier.policies });
 * const decision = await limiter.check(rateLimitKey({ tenant: 'acme' }, 'search'), 'pro');
 */
export class RateLimiter {
  /** The store when it is in this process (it cannot fail or hang: no deadline, no insurance). */
  readonly #local: MemoryRateLimitStore | undefined;
  readonly #guard: StoreGuard | undefined;
  readonly #clock: Clock;
  readonly #divisor: number;
  readonly #named = new Map<string, Resolved>();
  readonly #byObject = new WeakMap<RateLimitPolicy, Resolved>();
  readonly #decided = new Emitter<RateLimitDecisionEvent>();
  #decisions = 0;

  /** Subscribes to every decision. */
  readonly onDecision: Subscribe<RateLimitDecisionEvent> = this.#decided.subscribe;
  /** Subscribes to store failures and timeouts. */
  readonly onStoreError: Subscribe<RateLimitStoreErrorEvent>;
  /** Subscribes to decisions made by the insurance store. */
  readonly onFallback: Subscribe<RateLimitFallbackEvent>;
  /** Subscribes to the store answering again after a failure. */
  readonly onRecover: Subscribe<RateLimitRecoverEvent>;

  constructor(options: RateLimiterOptions = {}) {
    const o = withDefaults(defaultOptions, {
      ...options,
      storeTimeout:
        options.storeTimeout ??
        deprecatedOption('rateLimiter', 'storeTimeoutMs', 'storeTimeout', options.storeTimeoutMs),
      storeCooldown:
        options.storeCooldown ??
        deprecatedOption('rateLimiter', 'cooldownMs', 'storeCooldown', options.cooldownMs),
    });
    this.#clock = checkClock('rateLimiter', o.clock ?? systemClock());
    const timeout = checkNumber('rateLimiter', 'storeTimeout', o.storeTimeout, { min: 1 });
    const cooldown = checkNumber('rateLimiter', 'storeCooldown', o.storeCooldown, { min: 0 });
    this.#divisor = checkNumber('rateLimiter', 'insuranceDivisor', o.insuranceDivisor, { min: 1 });
    const store = o.store ?? new MemoryRateLimitStore();
    if (typeof store?.decide !== 'function')
      throw invalidOption('rateLimiter', 'store', 'a RateLimitStore', store);
    this.#local = store instanceof MemoryRateLimitStore ? store : undefined;
    this.#guard = this.#local
      ? undefined
      : new StoreGuard({
          store,
          clock: this.#clock,
          timeout,
          cooldown,
          insuranceMaxKeys: o.insuranceMaxKeys,
        });
    // A memory store has no guard: its listeners are never called.
    const idle = new Emitter<never>();
    this.onStoreError = (this.#guard?.storeFailed ?? idle).subscribe;
    this.onFallback = (this.#guard?.fellBack ?? idle).subscribe;
    this.onRecover = (this.#guard?.recovered ?? idle).subscribe;
    for (const policy of o.policies ?? []) {
      const resolved = this.#prepare(policy);
      if (this.#named.has(resolved.policy.name)) {
        throw invalidOption('rateLimiter', 'policies', 'policies with distinct names', resolved.policy.name);
      }
      this.#named.set(resolved.policy.name, resolved);
    }
  }

  /** Counters since creation, and whether the store is being skipped. */
  get stats(): RateLimiterStats {
    const guard = this.#guard;
    return {
      decisions: this.#decisions,
      storeDecisions: guard?.stats.storeDecisions ?? 0,
      fallbackDecisions: guard?.stats.fallbackDecisions ?? 0,
      storeErrors: guard?.stats.storeErrors ?? 0,
      storeTimeouts: guard?.stats.storeTimeouts ?? 0,
      circuit: guard?.circuit ?? 'closed',
    };
  }

  /**
   * Decides one request on `key` under `policy` (a name from `options.policies`, or a policy). Store failures
   * never reach the caller: the insurance store decides instead. Rejects only for a programming error (an
   * unknown policy, a bad cost, a raw string key) or when `signal` aborts.
   *
   * @example
   * const decision = await limiter.check(rateLimitKey({ client: ip }, 'login'), 'login', { cost: 1 });
   * if (!decision.allowed) throw rateLimitedError(decision);
   */
  check(
    key: RateLimitKey,
    policy: string | RateLimitPolicy,
    options?: CheckOptions,
  ): Promise<RateLimitDecision> {
    let resolved: Resolved;
    let cost: number;
    try {
      resolved = this.#resolve(policy);
      cost = this.#validate(key, resolved, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = chargeTime(options, this.#clock.now());
    if (this.#local) {
      const local = this.#local.decideScoped(resolved.suffix, key, resolved.params, now, cost);
      return Promise.resolve(this.#finish(key, resolved, local, 'store'));
    }
    return this.#guard!.decide(key, resolved, cost, now, options?.signal, (d, source) =>
      this.#finish(key, resolved, d, source),
    );
  }

  /**
   * `check` without a promise when the store is in this process (a memory store): the decision, or undefined
   * when it needs a remote store (then call `check`). Throws for the programming errors `check` rejects for.
   *
   * @example
   * const decision = limiter.checkSync(key, 'pro') ?? (await limiter.check(key, 'pro'));
   */
  checkSync(
    key: RateLimitKey,
    policy: string | RateLimitPolicy,
    options?: Omit<CheckOptions, 'signal'>,
  ): RateLimitDecision | undefined {
    if (!this.#local) return undefined;
    const resolved = this.#resolve(policy);
    const cost = this.#validate(key, resolved, options);
    const now = chargeTime(options, this.#clock.now());
    const local = this.#local.decideScoped(resolved.suffix, key, resolved.params, now, cost);
    return this.#finish(key, resolved, local, 'store');
  }

  // The cost of a check, after the checks every caller must pass.
  #validate(key: RateLimitKey, resolved: Resolved, options: CheckOptions | undefined): number {
    const cost = options?.cost ?? 1;
    if (cost !== 1 && !(cost >= 0 && cost <= resolved.policy.burst)) {
      const rule = `a number from 0 to the burst (${resolved.policy.burst})`;
      throw invalidOption('rateLimiter.check', 'cost', rule, cost);
    }
    if (!isRateLimitKey(key))
      throw invalidOption('rateLimiter.check', 'key', 'a key built by rateLimitKey', key);
    if (options?.signal?.aborted) throw abortedError(options.signal);
    return cost;
  }

  #finish(
    key: RateLimitKey,
    resolved: Resolved,
    d: StoreDecision,
    source: DecisionSource,
  ): RateLimitDecision {
    this.#decisions++;
    const decision: RateLimitDecision = {
      allowed: d.allowed,
      policy: resolved.policy,
      limit: resolved.policy.limit,
      remaining: d.remaining,
      resetMs: d.resetMs,
      retryAfterMs: d.retryAfterMs,
    };
    if (this.#decided.active) this.#decided.emit({ key, decision, source });
    return decision;
  }

  #resolve(policy: string | RateLimitPolicy): Resolved {
    if (typeof policy === 'string') {
      const named = this.#named.get(policy);
      if (named) return named;
      throw rateLimitErrors.create(
        'HR_RATE_LIMIT_UNKNOWN_POLICY',
        `no rate-limit policy named ${JSON.stringify(policy)}; known: ${[...this.#named.keys()].join(', ') || 'none'}`,
        { context: { policy } },
      );
    }
    let resolved = this.#byObject.get(policy);
    if (!resolved) {
      resolved = this.#prepare(policy);
      this.#byObject.set(policy, resolved);
    }
    return resolved;
  }

  #prepare(policy: RateLimitPolicy): Resolved {
    const resolved = rateLimitPolicy(policy);
    return {
      policy: resolved,
      params: gcraParams(resolved),
      insurance: gcraParams(resolved, this.#divisor),
      suffix: `/p=${encodeURIComponent(resolved.name)}`,
    };
  }
}

/**
 * Creates a rate limiter. Give it a Redis store to share limits across instances; it falls back to local
 * decisions by itself when Redis fails or is slow, and returns to Redis when it answers again.
 *
 * @example
 * const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 100 });
 * const limiter = createRateLimiter({
 *   store: redisRateLimitStore(redis),
 *   policies: [{ name: 'pro', limit: 600, window: 60_000 }],
 *   insuranceDivisor: 4, // four instances
 * });
 * const decision = await limiter.check(rateLimitKey({ tenant: 'acme' }, 'search'), 'pro');
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  return new RateLimiter(options);
}
