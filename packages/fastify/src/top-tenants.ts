// Which tenants may appear as a `tenant` label: the N busiest by requests, the rest `other`, in memory that does
// not grow with the number of tenants, and without a tenant's label changing from one request to the next.
//
// Counting is Space-Saving (Metwally, Agrawal, El Abbadi 2005): `capacity` counters; a tenant without one takes
// the smallest counter's place and inherits its count as its possible error, so every tenant with more than
// 1/capacity of the (decayed) requests holds a counter, whatever the number of tenants. The labels come from a
// published set that changes only in `rank()` (the caller runs it every minute or so): a free place is given to a
// tenant at its first request; after that a challenger takes an incumbent's place only when its guaranteed count
// (count − error) beats the incumbent's by the hysteresis factor. Counts are halved at every rank, so "busiest"
// means recently (a half-life of one rank period), and a tenant that went quiet is overtaken.

import { invalidOption } from '@headroom/core/errors';

/** The label of every tenant outside the top N. */
export const otherTenant = 'other';
/** The label of every request with no tenant (not authenticated). */
export const anonymousTenant = 'anonymous';
/** The label of every request when the spec allows no tenant label (`telemetry.tenants.top: 0`). */
export const allTenants = 'all';

/** Options of {@link TopTenants}. */
export interface TopTenantsOptions {
  /** Tenants that may have their own label; 0: none (every label is `all`). */
  top: number;
  /** Counters kept; a tenant with more than 1/capacity of the requests always holds one. @default max(8 × top, 64) */
  capacity?: number;
  /** A challenger's count must beat an incumbent's by this factor to take its place. @default 1.25 */
  hysteresis?: number;
  /** Counts are multiplied by this at every rank (0.5: a half-life of one rank period). @default 0.5 */
  decay?: number;
}

const defaultOptions = { hysteresis: 1.25, decay: 0.5, minCapacity: 64, capacityPerPlace: 8 } as const;

interface Counter {
  tenant: string;
  count: number;
  error: number;
}

/**
 * The top-N tenant labeler. `observe(tenant)` per request, `label(tenant)` for its label, `rank()` on a timer.
 * `generation` changes whenever any tenant's label may have changed, so callers can keep resolved series until then.
 *
 * @example
 * const tenants = new TopTenants({ top: 20 });
 * tenants.observe('acme');
 * tenants.label('acme'); // 'acme' (a free place), or 'other'
 */
export class TopTenants {
  readonly top: number;
  readonly capacity: number;
  /** Bumped whenever the set of labelled tenants changes. */
  generation = 0;
  readonly #hysteresis: number;
  readonly #decay: number;
  readonly #counters = new Map<string, Counter>();
  #published = new Set<string>();

  constructor(options: TopTenantsOptions) {
    const { top } = options;
    if (!(Number.isInteger(top) && top >= 0))
      throw invalidOption('TopTenants', 'top', 'an integer >= 0', top);
    const capacity =
      options.capacity ?? Math.max(defaultOptions.capacityPerPlace * top, defaultOptions.minCapacity);
    if (!(Number.isInteger(capacity) && capacity >= top && capacity >= 1)) {
      throw invalidOption('TopTenants', 'capacity', `an integer >= top (${top}) and >= 1`, capacity);
    }
    const hysteresis = options.hysteresis ?? defaultOptions.hysteresis;
    if (!(hysteresis >= 1)) throw invalidOption('TopTenants', 'hysteresis', 'a number >= 1', hysteresis);
    const decay = options.decay ?? defaultOptions.decay;
    if (!(decay > 0 && decay <= 1)) throw invalidOption('TopTenants', 'decay', 'a number in (0, 1]', decay);
    this.top = top;
    this.capacity = capacity;
    this.#hysteresis = hysteresis;
    this.#decay = decay;
  }

  /** Counters in use: never more than `capacity`, however many tenants there are. */
  get size(): number {
    return this.#counters.size;
  }

  /** The tenants labelled now. */
  get labelled(): ReadonlySet<string> {
    return this.#published;
  }

  /** Counts `weight` requests of `tenant` (a value from {@link tenantLabelValue}). */
  observe(tenant: string, weight = 1): void {
    if (this.top === 0) return;
    const found = this.#counters.get(tenant);
    if (found !== undefined) found.count += weight;
    else if (this.#counters.size < this.capacity) {
      this.#counters.set(tenant, { tenant, count: weight, error: 0 });
    } else {
      // O(capacity), only for a tenant without a counter (the long tail); the counter object is reused.
      let min: Counter | undefined;
      for (const counter of this.#counters.values())
        if (min === undefined || counter.count < min.count) min = counter;
      this.#counters.delete(min!.tenant);
      min!.tenant = tenant;
      min!.error = min!.count;
      min!.count += weight;
      this.#counters.set(tenant, min!);
    }
    if (this.#published.size < this.top && !this.#published.has(tenant)) {
      this.#published.add(tenant);
      this.generation++;
    }
  }

  /** `tenant` if it is one of the top N, else `other`; `all` when the top is 0. */
  label(tenant: string): string {
    if (this.top === 0) return allTenants;
    return this.#published.has(tenant) ? tenant : otherTenant;
  }

  /**
   * Re-ranks: the N best by guaranteed count (incumbents' counts × hysteresis) become the labelled set, then every
   * count decays. Returns the tenants that lost their label (so their series can be dropped).
   */
  rank(): string[] {
    if (this.top === 0) return [];
    const scored = new Map<string, { score: number; incumbent: boolean }>();
    for (const tenant of this.#published) scored.set(tenant, { score: 0, incumbent: true });
    for (const { tenant, count, error } of this.#counters.values()) {
      const incumbent = this.#published.has(tenant);
      scored.set(tenant, { score: (count - error) * (incumbent ? this.#hysteresis : 1), incumbent });
    }
    const next = [...scored]
      .filter(([, { score, incumbent }]) => incumbent || score > 0)
      .sort(
        ([a, x], [b, y]) =>
          y.score - x.score || Number(y.incumbent) - Number(x.incumbent) || (a < b ? -1 : a > b ? 1 : 0),
      )
      .slice(0, this.top)
      .map(([tenant]) => tenant);
    const dropped = [...this.#published].filter((tenant) => !next.includes(tenant));
    if (dropped.length > 0 || next.length !== this.#published.size) {
      this.#published = new Set(next);
      this.generation++;
    }
    for (const counter of this.#counters.values()) {
      counter.count *= this.#decay;
      counter.error *= this.#decay;
    }
    return dropped;
  }
}

const maxLabelLength = 64;
const safeLabel = /^[A-Za-z0-9._:@-]{1,64}$/;

/**
 * A tenant id as a label value: at most 64 characters of `A-Z a-z 0-9 . _ : @ -` (others become `_`, the rest is
 * cut); none or empty is `anonymous`. Two ids that differ only past the 64th character or in replaced characters
 * share a label: tenant ids are expected to be short and plain, and this only bounds what a metric can hold.
 *
 * @example
 * tenantLabelValue('acme-42'); // 'acme-42'
 * tenantLabelValue(undefined); // 'anonymous'
 */
export function tenantLabelValue(tenant: string | undefined): string {
  if (tenant === undefined || tenant === '') return anonymousTenant;
  if (safeLabel.test(tenant)) return tenant;
  return tenant.slice(0, maxLabelLength).replace(/[^A-Za-z0-9._:@-]/g, '_');
}
