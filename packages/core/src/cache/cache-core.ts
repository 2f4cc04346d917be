// What the cache's parts share (its stores, L1, tag versions, counters and event outlets), and the two ways out
// to shared infrastructure, L2 calls and bus messages, both behind the L2 breaker and failing open.

import type { Clock } from '../clock/index.ts';
import { isBrokenCircuitError } from '../policy/errors.ts';
import type { Policy } from '../policy/policy.ts';
import type { CacheCounters, CacheEvents, CacheStats } from './cache-events.ts';
import type { ResolvedEntryOptions } from './cache-options.ts';
import type { L1Entry, Serializer } from './entry.ts';
import type { SieveCache } from './sieve-cache.ts';
import type { BusMessage, CacheBus, CacheStore } from './store.ts';
import type { TagVersions } from './tag-versions.ts';

/** An L2 call that failed or was refused by the breaker (already counted). */
export const FAILED: unique symbol = Symbol('l2 failed');
export type Failed = typeof FAILED;

/** The state and outlets of one cache, shared by its read path (`Cache`), its miss path (`Loads`), its L2 access (`L2Tier`) and its bus listener. */
export interface CacheCore {
  readonly name: string;
  readonly instanceId: string;
  /** Prepended to keys in L2 and bus messages: caches sharing a Redis never meet. */
  readonly prefix: string;
  readonly l1: SieveCache<L1Entry>;
  readonly l2: CacheStore | undefined;
  readonly bus: CacheBus | undefined;
  readonly breaker: Policy;
  readonly tags: TagVersions;
  readonly serializer: Serializer;
  readonly clock: Clock;
  readonly random: () => number;
  readonly defaults: ResolvedEntryOptions;
  readonly leaseTtl: number;
  readonly s: CacheCounters;
  /** Loads, refreshes, L2 writes and publishes still running (for whenIdle and close). */
  readonly pending: Set<Promise<unknown>>;
  /** Aborted by close(): running loaders see it through their signal. */
  readonly closing: AbortController;
  closed: boolean;
  readonly events: CacheEvents;
  /** False when a tag of the entry moved on since it was made. */
  current(entry: L1Entry): boolean;
}

/**
 * One L2 call through the breaker: its answer, or FAILED (counted, never thrown), so every L2 read and write
 * fails open.
 */
export async function l2Call<R>(
  core: CacheCore,
  operation: string,
  fn: (l2: CacheStore) => Promise<R>,
): Promise<R | Failed> {
  const l2 = core.l2!;
  try {
    return await core.breaker.execute(() => fn(l2));
  } catch (error) {
    core.events.fail(`l2.${operation}`, error, isBrokenCircuitError(error));
    if (operation === 'get') core.events.count('l2', 'error');
    return FAILED;
  }
}

/** Tells the other instances through the bus, through the breaker; a failure is counted, not thrown. */
export async function publish(
  core: CacheCore,
  message: {
    type: BusMessage['type'];
    cache?: string;
    keys?: string[];
    tags?: string[];
    versions?: number[];
  },
): Promise<void> {
  const bus = core.bus;
  if (bus === undefined) return;
  const full = { ...message, origin: core.instanceId, sentAt: core.clock.now() } as BusMessage;
  try {
    await core.breaker.execute(() => bus.publish(full));
    core.s.busPublished++;
  } catch (error) {
    core.events.fail('bus.publish', error, isBrokenCircuitError(error));
  }
}

/** Runs `work` in the background: whenIdle and close wait for it, and its failure is already counted. */
export function background(core: CacheCore, work: Promise<unknown>): void {
  const done = work.catch(() => {}).finally(() => core.pending.delete(done));
  core.pending.add(done);
}

/** The figures `cache.stats()` answers, read from the shared state. */
export function cacheStats(
  core: CacheCore,
  limits: { maxEntries: number; maxBytes: number },
  inflight: number,
): CacheStats {
  const s = core.s;
  const breaker = (core.breaker as { state?: unknown }).state;
  return {
    name: core.name,
    instanceId: core.instanceId,
    l1: {
      entries: core.l1.size,
      bytes: core.l1.bytes,
      maxEntries: limits.maxEntries,
      maxBytes: limits.maxBytes,
      evictions: core.l1.evictions,
      tags: core.tags.size,
    },
    requests: structuredClone(s.requests),
    loads: {
      total: s.loads,
      errors: s.loadErrors,
      timeouts: s.loadTimeouts,
      refreshes: s.refreshes,
      joined: s.joined,
      waitedRemote: s.waitedRemote,
      fenced: s.fenced,
      outdated: s.outdated,
      graceServed: s.graceServed,
      inflight: inflight,
    },
    l2: {
      store: core.l2?.name,
      breaker: typeof breaker === 'string' ? breaker : undefined,
      errors: s.l2Errors,
      rejected: s.l2Rejected,
    },
    bus: {
      healthy: core.bus?.healthy,
      received: s.busReceived,
      published: s.busPublished,
      reconnects: s.busReconnects,
      lastLagMs: s.lastLagMs,
      maxLagMs: s.maxLagMs,
      meanLagMs: s.busReceived > 0 ? s.lagTotal / s.busReceived : undefined,
    },
  };
}
