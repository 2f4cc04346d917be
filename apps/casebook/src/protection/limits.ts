// What each tenant tier may use, and the policies that enforce it: GCRA rate limits per tenant (by tier)
// and per client address and account on login, and a fair concurrency limit on search.

import type { Clock } from '@headroom/core/clock';
import {
  type AdaptiveLimitPolicy,
  adaptiveLimit,
  type BulkheadPolicy,
  bulkhead,
  eventLoopSaturation,
  isBulkheadRejectedError,
} from '@headroom/core/policy';
import {
  createRateLimiter,
  type RateLimiter,
  type RateLimitPolicy,
  type RateLimitStore,
  rateLimitKey,
} from '@headroom/core/ratelimit';
import { type OverloadOptions, overloadedError, type RateLimitCheck } from '@headroom/fastify';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { memoBy } from '../memo.ts';
import { type Tier, tierQuotas } from '../tenancy/tiers.ts';

/**
 * Login: every attempt per client address (password hashing is costly); failed attempts per client, and per
 * account from one client. Failures are never counted per account alone: then anyone who knows an address
 * could keep its owner locked out, while the owner's own client, which has not failed, still gets in.
 */
export const loginQuotas = {
  client: { name: 'login-client', limit: 30, window: 60_000, burst: 20 },
  clientFailures: { name: 'login-failures-client', limit: 10, window: 60_000, burst: 10 },
  accountFailures: { name: 'login-failures-account', limit: 5, window: 60_000, burst: 5 },
} as const satisfies Record<string, RateLimitPolicy>;

const scaled = (policy: RateLimitPolicy, by: number): RateLimitPolicy => ({
  ...policy,
  limit: Math.ceil(policy.limit * by),
  burst: Math.ceil((policy.burst ?? policy.limit) * by),
});

export interface LimitsOptions {
  clock: Clock;
  /** A shared store (Redis) for limits that hold across instances. @default in-process */
  store?: RateLimitStore;
  /** Instances sharing the store, so each enforces its share while the store is down. @default 1 */
  instances?: number;
  /** Multiplies every quota (rate and burst): tests that are not about limits raise them out of the way. @default 1 */
  scale?: number;
  /**
   * The adaptive limit at the door (see `door`); false leaves every request in, `latency` leaves out its event-loop
   * guard (it then shrinks on latency alone, slow dependency or not: for comparison). @default true
   */
  door?: boolean | 'latency';
  /**
   * Whether the door also sheds everything while requests pile up at a saturated event loop (`doorSaturation`).
   * Off by default: in-process bursts of 300-500 requests (the stampede in caching.test.ts, the pooler's
   * concurrency test) saturate a test process's loop for a second and were refused. The chaos cluster turns it
   * on (`OVERLOAD_SATURATION=on`). @default false
   */
  doorSaturation?: boolean;
  /**
   * The tiers' quotas in force, read at every request (casebook.yaml's `tiers`, hot-reloaded): a reload changes
   * them from the next request, each tenant's bucket kept. @default tierQuotas
   */
  tiers?: () => TierQuotas;
}

/** Each tier's quota (casebook.yaml's `tiers` is one). */
type TierQuotas = Readonly<Record<Tier, { readonly rateLimit: Omit<RateLimitPolicy, 'name'> }>>;

/** The policies casebook's routes use. */
export interface Limits {
  limiter: RateLimiter;
  /** Rate-limit checks of an authenticated request: the tenant's bucket under its tier's policy. */
  tenantChecks: (request: FastifyRequest) => readonly RateLimitCheck[];
  /** Rate-limit checks of every login attempt: the client's bucket. */
  loginChecks: (request: FastifyRequest) => RateLimitCheck[];
  /** Buckets of failed logins: per client, and per account from that client. */
  loginFailures: (request: FastifyRequest, email: string) => RateLimitCheck[];
  /** Fair concurrency limit on search, keyed by tenant. */
  search: BulkheadPolicy;
  /**
   * Requests in flight in this process, at most: an adaptive limit checked before anything else, so an
   * overload is refused (503) for the price of a small answer instead of slowing every request down.
   */
  door: AdaptiveLimitPolicy | undefined;
  /**
   * When the door refuses everything, free slots or not (the plugin's `overload.saturation`): requests keep
   * arriving at an event loop that stayed saturated. Undefined unless `doorSaturation` is asked for, and with the
   * door off or in `latency` mode.
   */
  doorSaturation: NonNullable<OverloadOptions['saturation']> | undefined;
}

/**
 * Builds casebook's limits.
 *
 * @example
 * const limits = createLimits({ clock, store: redisRateLimitStore(redis), instances: 2 });
 */
export function createLimits(options: LimitsOptions): Limits {
  const scale = options.scale ?? 1;
  const limiter = createRateLimiter({
    clock: options.clock,
    ...(options.store ? { store: options.store } : {}),
    policies: [
      scaled(loginQuotas.client, scale),
      scaled(loginQuotas.clientFailures, scale),
      scaled(loginQuotas.accountFailures, scale),
    ],
    insuranceDivisor: options.instances ?? 1,
  });
  // The policies of the tiers in force, built again only when the settings' tiers change.
  const policiesOf = memoBy(
    (given: TierQuotas): Record<Tier, RateLimitPolicy> => ({
      free: scaled({ name: 'free', ...given.free.rateLimit }, scale),
      pro: scaled({ name: 'pro', ...given.pro.rateLimit }, scale),
      enterprise: scaled({ name: 'enterprise', ...given.enterprise.rateLimit }, scale),
    }),
  );
  const builtIn: TierQuotas = {
    free: { rateLimit: tierQuotas.free },
    pro: { rateLimit: tierQuotas.pro },
    enterprise: { rateLimit: tierQuotas.enterprise },
  };
  const currentTiers = options.tiers ?? (() => builtIn);
  const tenantChecks = new WeakMap<
    Principal,
    { policies: Record<Tier, RateLimitPolicy>; checks: readonly RateLimitCheck[] }
  >();
  return {
    limiter,
    tenantChecks(request) {
      // A principal object lives as long as its cached credential: its checks are built once per principal and
      // quotas in force, not per request. A policy keeps its name (free, pro…), so a tenant's bucket survives a
      // change of its numbers.
      const principal = request.principal;
      const policies = policiesOf(currentTiers());
      let cached = tenantChecks.get(principal);
      if (cached === undefined || cached.policies !== policies) {
        const policy = policies[principal.tier] ?? policies.free;
        cached = {
          policies,
          checks: [{ key: rateLimitKey({ tenant: String(principal.tenantId) }, 'api'), policy }],
        };
        tenantChecks.set(principal, cached);
      }
      return cached.checks;
    },
    loginChecks(request) {
      return [{ key: rateLimitKey({ client: request.ip }, 'login'), policy: loginQuotas.client.name }];
    },
    loginFailures(request, email) {
      return [
        {
          key: rateLimitKey({ client: request.ip }, 'login-failures'),
          policy: loginQuotas.clientFailures.name,
        },
        {
          key: rateLimitKey({ account: email.toLowerCase(), client: request.ip }, 'login-failures'),
          policy: loginQuotas.accountFailures.name,
        },
      ];
    },
    // Starts at 64 and moves with the RTTs of whole requests: cache hits take microseconds and hold almost no
    // slot, so what the limit meters is mostly database work (the pool has 20 connections, search 16 slots).
    // The queue takes what can be served within 50 ms: a burst of cache hits queues deep (a stampede of 500
    // on one key is admitted and joins one load), an overload of searches queues about 50 ms and the rest is
    // refused at once; nobody waits past a second (a burst that has not drained by then is an overload).
    // It shrinks only while the event loop is busy: a slow database slows requests without making casebook
    // busier, and shrinking then would refuse cache hits (the database's requests have their own deadlines).
    door:
      options.door === false
        ? undefined
        : adaptiveLimit({
            name: 'requests',
            initialLimit: 64,
            minLimit: 8,
            maxLimit: 512,
            maxQueue: 1024,
            queueTarget: 50,
            queueTimeout: 1000,
            ...(options.door === 'latency' ? {} : { saturation: eventLoopSaturation() }),
            clock: options.clock,
          }),
    // What the limit cannot see: requests waiting in the sockets for a loop too busy to read them. Under 3,000
    // searches/s on two shared cores (the overload chaos drill) its long-term RTT read 8-45 ms while nginx waited
    // up to 2.5 s for casebook's answers. Refusing everything after two saturated 50 ms readings (90% busy, with
    // a quarter of the limit's requests overlapping at the door: the plugin's rule) kept the admitted p99 at 339
    // and 492 ms in two short runs, against 1.4-4.2 s without. 90% busy rather than the plugin's 95%: with 95%
    // one run of two still reached 534 ms (a contended loop reads below full while work waits).
    doorSaturation:
      options.door === false || options.door === 'latency' || options.doorSaturation !== true
        ? undefined
        : { above: 0.9, window: 50, readings: 2 },
    search: bulkhead({
      name: 'search',
      maxConcurrent: 16,
      maxQueue: 64,
      queueTimeout: 250,
      maxPerKey: 12,
      clock: options.clock,
    }),
  };
}

/**
 * Runs `work` holding a slot of `limiter` for `key` (no limiter: at once). A refusal (queue full, or waited
 * past the queue timeout) is 503 HR_OVERLOADED with Retry-After; in a cache loader it lets the cache answer
 * from grace when it has a stale page.
 *
 * @example
 * const { rows } = await limited(limits.search, tenantSlug, () => db.query(sql));
 */
export async function limited<T>(
  limiter: BulkheadPolicy | undefined,
  key: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!limiter) return work();
  try {
    return await limiter.execute(work, { key });
  } catch (error) {
    throw isBulkheadRejectedError(error) ? overloadedError(limiter.name, error) : error;
  }
}
