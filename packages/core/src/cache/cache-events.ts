// What a cache tells the outside: typed events for metrics and logs, and the counters behind `stats()`.

import type { Clock } from '../clock/index.ts';
import { Emitter } from '../shared/events.ts';

/** Which tier answered. */
export type CacheTier = 'l1' | 'l2';

/** How a tier answered: fresh value, nothing, a stale value, or a failure (L2 only; the caller never sees it). */
export type CacheResult = 'hit' | 'miss' | 'stale' | 'error';

/** One lookup in one tier; the source of `headroom_cache_requests_total{cache,tier,result}`. */
export interface CacheRequestEvent {
  cache: string;
  tier: CacheTier;
  result: CacheResult;
}

/** One loader run; the source of `headroom_cache_loads_total` and load-duration histograms. */
export interface CacheLoadEvent {
  cache: string;
  /** A background refresh (stale-while-revalidate, or a load that outlived a soft timeout's caller). */
  refresh: boolean;
  outcome: 'ok' | 'error' | 'timeout';
  durationMs: number;
  error?: unknown;
}

/** A bus message from another instance arrived; `lagMs` is receive time minus publish time (both wall clocks). */
export interface CacheBusEvent {
  cache: string;
  type: string;
  lagMs: number;
}

/** An L2 or bus call failed or was refused by the breaker; the cache carried on without it. */
export interface CacheErrorEvent {
  cache: string;
  operation: string;
  /** The breaker refused the call without trying it. */
  rejected: boolean;
  error: unknown;
}

/** Figures for an admin endpoint; counters only grow. */
export interface CacheStats {
  name: string;
  instanceId: string;
  l1: {
    entries: number;
    bytes: number;
    maxEntries: number;
    maxBytes: number;
    evictions: number;
    tags: number;
  };
  requests: Record<CacheTier, Record<CacheResult, number>>;
  loads: {
    total: number;
    errors: number;
    timeouts: number;
    refreshes: number;
    /** Callers that joined a load already running in this process. */
    joined: number;
    /** Loads this instance left to another instance holding the lease. */
    waitedRemote: number;
    /** Writes refused because the lease had passed to someone else. */
    fenced: number;
    /** Loads whose result was not stored because a tag was invalidated while they ran. */
    outdated: number;
    /** Stale values served because the loader failed, timed out or was backing off. */
    graceServed: number;
    inflight: number;
  };
  l2: { store: string | undefined; breaker: string | undefined; errors: number; rejected: number };
  bus: {
    healthy: boolean | undefined;
    received: number;
    published: number;
    reconnects: number;
    lastLagMs: number | undefined;
    maxLagMs: number;
    meanLagMs: number | undefined;
  };
}

/** The mutable counters behind CacheStats. */
export class CacheCounters {
  readonly requests: CacheStats['requests'] = {
    l1: { hit: 0, miss: 0, stale: 0, error: 0 },
    l2: { hit: 0, miss: 0, stale: 0, error: 0 },
  };
  loads = 0;
  loadErrors = 0;
  loadTimeouts = 0;
  refreshes = 0;
  joined = 0;
  waitedRemote = 0;
  fenced = 0;
  outdated = 0;
  graceServed = 0;
  l2Errors = 0;
  l2Rejected = 0;
  busReceived = 0;
  busPublished = 0;
  busReconnects = 0;
  lastLagMs: number | undefined;
  maxLagMs = 0;
  lagTotal = 0;
}

/**
 * The event outlets of one cache, and the counting that goes with them. Every emit is behind `active`, so an event
 * nobody listens to costs one check.
 */
export class CacheEvents {
  readonly requested = new Emitter<CacheRequestEvent>();
  readonly loaded = new Emitter<CacheLoadEvent>();
  readonly busLag = new Emitter<CacheBusEvent>();
  readonly failed = new Emitter<CacheErrorEvent>();
  readonly #cache: string;
  readonly #clock: Clock;
  readonly #s: CacheCounters;

  constructor(cache: string, clock: Clock, counters: CacheCounters) {
    this.#cache = cache;
    this.#clock = clock;
    this.#s = counters;
  }

  /** Counts one lookup in one tier, and tells the listeners. */
  count(tier: CacheTier, result: CacheResult): void {
    this.#s.requests[tier][result]++;
    if (this.requested.active) this.requested.emit({ cache: this.#cache, tier, result });
  }

  /** A loader run ended with `outcome`; it began at `started` (monotonic ms). */
  loadEvent(refresh: boolean, outcome: CacheLoadEvent['outcome'], started: number, error: unknown): void {
    if (!this.loaded.active) return;
    const durationMs = this.#clock.monotonic() - started;
    this.loaded.emit({
      cache: this.#cache,
      refresh,
      outcome,
      durationMs,
      ...(error === undefined ? {} : { error }),
    });
  }

  /** An L2 or bus call failed (`rejected`: the breaker refused it); counted, never thrown. */
  fail(operation: string, error: unknown, rejected: boolean): void {
    if (rejected) this.#s.l2Rejected++;
    else this.#s.l2Errors++;
    if (this.failed.active) this.failed.emit({ cache: this.#cache, operation, rejected, error });
  }

  /** A bus message from another instance arrived `lagMs` after it was sent. */
  busMessage(type: string, lagMs: number): void {
    if (this.busLag.active) this.busLag.emit({ cache: this.#cache, type, lagMs });
  }
}
