// Rate-limit decisions by tenant, for the operations page and `GET /admin/ratelimits/tenants`: requests admitted
// and refused (429) since the process started (no decay), and each policy's quota use as of the tenant's latest
// decision.
//
// Which tenants have a row is the job of top-tenants.ts, reused here with no decay: `capacity` rows and
// `counters` Space-Saving counters of rate-limited requests. Every tenant gets a row while rows are free. After
// that a newcomer is only counted by a counter until a re-rank (at most every `rankEvery` ms, run by a decision
// of a tenant without a row), where the rows go to the tenants with the highest guaranteed counts (an
// incumbent's weighed by the hysteresis factor, so near-equal tenants do not swap rows back and forth). A tenant
// that wins a row counts from then (its `since`); one that loses it loses its counts. Memory is bounded by
// `capacity` rows (each at most `maxPolicies` quotas) and `counters` counters, whatever the number of tenants.

import { type Clock, systemClock } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import type { RateLimitDecision } from '@headroom/core/ratelimit';
import { otherTenant, TopTenants, tenantLabelValue } from './top-tenants.ts';

/** Options of {@link RateLimitTenants}. */
export interface RateLimitTenantsOptions {
  /** Time of `since`, `last_refused_at` and a decision observed without its time. @default systemClock() */
  clock?: Clock;
  /** Tenants with a row (the most `top()` can list). @default 200 */
  capacity?: number;
  /** Space-Saving counters deciding who holds the rows. @default max(8 × capacity, 64) */
  counters?: number;
  /** Least time (ms) between two re-ranks of the rows. @default 10000 */
  rankEvery?: number;
}

const defaultOptions = { capacity: 200, rankEvery: 10_000, maxPolicies: 8 } as const;

/** One policy's quota in a tenant's row, as of the tenant's latest decision under it. */
export interface RateLimitQuota {
  policy: string;
  limit: number;
  remaining: number;
  /** 1 − remaining / limit of the latest decision. */
  used_share: number;
  /** Requests of this tenant this policy refused. */
  refused: number;
  /** Seconds from now until the bucket is full again (0: full by now, so `used_share` is past). */
  reset_s: number;
  decided_at: string;
}

/** One tenant's row: its requests the rate limits admitted and refused, and its quotas. */
export interface RateLimitTenantRow {
  /** The tenant (as a label value: see `tenantLabelValue`); `anonymous` for requests without one. */
  tenant: string;
  admitted: number;
  /** Requests answered 429 (a request refused by two policies is one). */
  refused: number;
  /** Since when this row counts: the tracker's start, or when the tenant won its row. */
  since: string;
  last_refused_at: string | null;
  policies: RateLimitQuota[];
}

interface Quota {
  policy: string;
  limit: number;
  remaining: number;
  resetAt: number;
  at: number;
  refused: number;
}

interface Row {
  tenant: string;
  since: number;
  admitted: number;
  refused: number;
  lastRefusedAt: number;
  quotas: Quota[];
}

/**
 * Rate-limit decisions by tenant in bounded memory: `observe()` per rate-limited request, `top()` to read.
 *
 * @example
 * const tenants = new RateLimitTenants({ clock });
 * tenants.observe('acme', [decision]);
 * tenants.top(10); // [{ tenant: 'acme', admitted: 1, refused: 0, policies: [...], ... }]
 */
export class RateLimitTenants {
  readonly capacity: number;
  /** When counting started (ms since the epoch). */
  readonly since: number;
  readonly #clock: Clock;
  readonly #rankEvery: number;
  readonly #holders: TopTenants;
  readonly #rows = new Map<string, Row>();
  #lastRank: number;

  constructor(options: RateLimitTenantsOptions = {}) {
    const capacity = options.capacity ?? defaultOptions.capacity;
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw invalidOption('RateLimitTenants', 'capacity', 'an integer >= 1', capacity);
    }
    const rankEvery = options.rankEvery ?? defaultOptions.rankEvery;
    if (!(Number.isFinite(rankEvery) && rankEvery >= 0)) {
      throw invalidOption('RateLimitTenants', 'rankEvery', 'a number of milliseconds >= 0', rankEvery);
    }
    this.#holders = new TopTenants({
      top: capacity,
      ...(options.counters === undefined ? {} : { capacity: options.counters }),
      decay: 1,
    });
    this.capacity = capacity;
    this.#clock = options.clock ?? systemClock();
    this.#rankEvery = rankEvery;
    this.since = this.#clock.now();
    this.#lastRank = this.since;
  }

  /** Tenants with a row now: never more than `capacity`. */
  get size(): number {
    return this.#rows.size;
  }

  /**
   * Counts one request of `tenant` (undefined: `anonymous`) and the decisions of its rate limits, made at `at`
   * (ms since the epoch, the time the limiter was given). Allocates only for a tenant's first decision under a
   * policy; an admitted request of a tenant with a row allocates nothing.
   */
  observe(tenant: string | undefined, decisions: readonly RateLimitDecision[], at?: number): void {
    const when = at ?? this.#clock.now();
    const name = tenantLabelValue(tenant);
    this.#holders.observe(name);
    let row = this.#rows.get(name);
    if (row === undefined) {
      if (this.#holders.label(name) === otherTenant) this.#rank(when);
      if (this.#holders.label(name) === otherTenant) return;
      row = { tenant: name, since: when, admitted: 0, refused: 0, lastRefusedAt: -1, quotas: [] };
      this.#rows.set(name, row);
    }
    let refused = false;
    for (const decision of decisions) {
      const quota = quotaOf(row, decision.policy.name, when);
      quota.limit = decision.limit;
      quota.remaining = decision.remaining;
      quota.resetAt = when + decision.resetMs;
      quota.at = when;
      if (!decision.allowed) {
        quota.refused++;
        refused = true;
      }
    }
    if (refused) {
      row.refused++;
      row.lastRefusedAt = when;
    } else row.admitted++;
  }

  /**
   * The `n` tenants refused most, then by their highest quota use, then by requests admitted; or only `scope`'s
   * row (none if it has no row).
   */
  top(n: number, scope?: string): RateLimitTenantRow[] {
    const now = this.#clock.now();
    let rows: Row[];
    if (scope === undefined) rows = [...this.#rows.values()];
    else {
      const row = this.#rows.get(tenantLabelValue(scope));
      rows = row === undefined ? [] : [row];
    }
    return rows
      .map((row) => rowOf(row, now))
      .sort(
        (a, b) =>
          b.refused - a.refused ||
          mostUsed(b) - mostUsed(a) ||
          b.admitted - a.admitted ||
          (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0),
      )
      .slice(0, n);
  }

  // Gives the rows to the tenants that earned them; a tenant that lost its row loses its counts.
  #rank(at: number): void {
    if (at - this.#lastRank < this.#rankEvery && at >= this.#lastRank) return;
    this.#lastRank = at;
    for (const tenant of this.#holders.rank()) this.#rows.delete(tenant);
  }
}

// A row's quota of `policy` (by name: a policy rebuilt with new numbers is the same quota), made at its first
// decision; past maxPolicies the least recently decided one makes way.
function quotaOf(row: Row, policy: string, at: number): Quota {
  const { quotas } = row;
  for (const quota of quotas) if (quota.policy === policy) return quota;
  const fresh: Quota = { policy, limit: 0, remaining: 0, resetAt: at, at, refused: 0 };
  if (quotas.length < defaultOptions.maxPolicies) quotas.push(fresh);
  else {
    let oldest = 0;
    for (let i = 1; i < quotas.length; i++) if (quotas[i]!.at < quotas[oldest]!.at) oldest = i;
    quotas[oldest] = fresh;
  }
  return fresh;
}

const iso = (ms: number) => new Date(ms).toISOString();

function rowOf(row: Row, now: number): RateLimitTenantRow {
  return {
    tenant: row.tenant,
    admitted: row.admitted,
    refused: row.refused,
    since: iso(row.since),
    last_refused_at: row.lastRefusedAt < 0 ? null : iso(row.lastRefusedAt),
    policies: row.quotas.map((q) => ({
      policy: q.policy,
      limit: q.limit,
      remaining: q.remaining,
      used_share: q.limit > 0 ? Math.min(1, Math.max(0, 1 - q.remaining / q.limit)) : 0,
      refused: q.refused,
      reset_s: Math.max(0, q.resetAt - now) / 1000,
      decided_at: iso(q.at),
    })),
  };
}

const mostUsed = (row: RateLimitTenantRow): number =>
  row.policies.reduce((most, q) => Math.max(most, q.used_share), 0);
