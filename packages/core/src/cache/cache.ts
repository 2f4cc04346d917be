// createCache: L1 in process, optional shared L2, stale-while-revalidate, grace, negative caching, timeouts, local and
// distributed singleflight, tags, and an invalidation bus. Every L2 and bus call is guarded and fails open.

import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock/index.ts';
import { abortedError, isBrokenCircuitError } from '../policy/errors.ts';
import { Emitter, type Subscribe } from '../policy/events.ts';
import { checkClock, checkFunction, checkNumber, invalidOption, withDefaults } from '../policy/options.ts';
import type { Policy } from '../policy/policy.ts';
import { type CacheCore, cacheStats, FAILED, l2Call, publish } from './cache-core.ts';
import {
  type CacheBusEvent,
  CacheCounters,
  type CacheErrorEvent,
  type CacheLoadEvent,
  type CacheRequestEvent,
  type CacheResult,
  type CacheStats,
  type CacheTier,
} from './cache-events.ts';
import { type CacheKey, type CacheScope, scopedTags, scopeOfKey } from './cache-key.ts';
import {
  type CacheOptions,
  defaultCacheOptions,
  defaultEntryOptions,
  type GetOrSetOptions,
  type ResolvedEntryOptions,
  resolveEntryOptions,
} from './cache-options.ts';
import { defaultL2Breaker } from './default-breaker.ts';
import {
  type CachedEntry,
  EMPTY,
  jsonSerializer,
  type L1Entry,
  type Serializer,
  type StoredEntry,
} from './entry.ts';
import { closedError, serializeError } from './errors.ts';
import { Loads } from './loads.ts';
import { RemoteWaits } from './remote-waits.ts';
import { type LoadContext, type Loader, orAfter, runLoader } from './run-loader.ts';
import { SieveCache } from './sieve-cache.ts';
import type { BusMessage, CacheBus, CacheStore } from './store.ts';
import { TagVersions } from './tag-versions.ts';

const NO_TAGS: readonly string[] = Object.freeze([]);
const NAME = /^[A-Za-z0-9._-]+$/;

const entryValue = <T>(entry: L1Entry): T => entry.value as T;

/**
 * A two-tier cache; create it with `createCache(options)`.
 *
 * @example
 * const cases = createCache({ name: 'cases', ttl: 30_000, staleWhileRevalidate: 60_000, l2, bus });
 * const c = await cases.getOrSet(cacheKey({ tenant }, 'case', id), ({ signal }) => db.findCase(id, signal), { tags: [`case:${id}`] });
 */
export class Cache {
  readonly name: string;
  readonly instanceId: string;
  readonly #l1: SieveCache<L1Entry>;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #l2: CacheStore | undefined;
  readonly #bus: CacheBus | undefined;
  readonly #breaker: Policy;
  readonly #leaseTtl: number;
  readonly #tags: TagVersions;
  readonly #serializer: Serializer;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #defaults: ResolvedEntryOptions;
  readonly #prefix: string;
  readonly #subscriptions: { dispose(): void }[] = [];
  readonly #s = new CacheCounters();
  readonly #core: CacheCore;
  readonly #loads: Loads;

  readonly #requested = new Emitter<CacheRequestEvent>();
  readonly #loaded = new Emitter<CacheLoadEvent>();
  readonly #busLag = new Emitter<CacheBusEvent>();
  readonly #failed = new Emitter<CacheErrorEvent>();
  /** Every lookup in each tier (`headroom_cache_requests_total{cache,tier,result}`). Emitted only while subscribed. */
  readonly onRequest: Subscribe<CacheRequestEvent> = this.#requested.subscribe;
  /** Every loader run, with its outcome and duration. */
  readonly onLoad: Subscribe<CacheLoadEvent> = this.#loaded.subscribe;
  /** Every bus message from another instance, with its lag. */
  readonly onBusMessage: Subscribe<CacheBusEvent> = this.#busLag.subscribe;
  /** Every L2 or bus failure the cache absorbed. */
  readonly onError: Subscribe<CacheErrorEvent> = this.#failed.subscribe;

  constructor(options: CacheOptions = {}) {
    const o = withDefaults(defaultCacheOptions, options);
    if (typeof o.name !== 'string' || !NAME.test(o.name)) {
      throw invalidOption('createCache', 'name', 'letters, digits, ".", "_" or "-"', o.name);
    }
    this.name = o.name;
    this.#prefix = `${o.name}|`;
    this.#maxEntries = checkNumber('createCache', 'maxEntries', o.maxEntries, { min: 1, integer: true });
    this.#maxBytes = checkNumber('createCache', 'maxBytes', o.maxBytes, { min: 1, infinite: true });
    this.#l1 = new SieveCache({ maxEntries: this.#maxEntries, maxBytes: this.#maxBytes });
    this.#tags = new TagVersions(checkNumber('createCache', 'maxTags', o.maxTags, { min: 1, integer: true }));
    this.#leaseTtl = checkNumber('createCache', 'leaseTtl', o.leaseTtl, { min: 0, above: true });
    this.#clock = checkClock('createCache', o.clock ?? systemClock());
    this.#random = checkFunction('createCache', 'random', o.random ?? Math.random);
    this.#serializer = o.serializer ?? jsonSerializer;
    if (
      typeof this.#serializer?.serialize !== 'function' ||
      typeof this.#serializer.deserialize !== 'function'
    ) {
      throw invalidOption(
        'createCache',
        'serializer',
        'an object with serialize and deserialize',
        o.serializer,
      );
    }
    this.#defaults = resolveEntryOptions('createCache', defaultEntryOptions, options);
    this.instanceId = o.instanceId ?? randomUUID();
    this.#l2 = o.l2;
    if (this.#l2 !== undefined && typeof this.#l2.get !== 'function') {
      throw invalidOption('createCache', 'l2', 'a CacheStore', o.l2);
    }
    this.#bus = o.bus;
    this.#breaker = o.l2Breaker ?? defaultL2Breaker(this.name, this.#clock);
    if (typeof this.#breaker?.execute !== 'function') {
      throw invalidOption('createCache', 'l2Breaker', 'a Policy', o.l2Breaker);
    }
    this.#core = {
      name: this.name,
      instanceId: this.instanceId,
      prefix: this.#prefix,
      l1: this.#l1,
      l2: this.#l2,
      bus: this.#bus,
      breaker: this.#breaker,
      tags: this.#tags,
      serializer: this.#serializer,
      clock: this.#clock,
      random: this.#random,
      defaults: this.#defaults,
      leaseTtl: this.#leaseTtl,
      s: this.#s,
      pending: new Set(),
      closing: new AbortController(),
      closed: false,
      count: (tier, result) => this.#count(tier, result),
      fail: (operation, error, rejected) => this.#fail(operation, error, rejected),
      loadEvent: (refresh, outcome, started, error) => this.#loadEvent(refresh, outcome, started, error),
      current: (entry) => this.#current(entry),
      busMessage: (type, lagMs) => {
        if (this.#busLag.active) this.#busLag.emit({ cache: this.name, type, lagMs });
      },
    };
    this.#loads = new Loads(this.#core);
    if (this.#bus) {
      this.#subscriptions.push(this.#bus.subscribe((message) => this.#loads.receive(message)));
      this.#subscriptions.push(this.#bus.onReconnect(() => this.#onBusReconnect()));
    }
  }

  /**
   * The value for `key`: from L1 when fresh (no promise is made per hit), else from L2, else from `loader` (one call
   * per key at a time in this process, and with a bus, across instances). Stale values are served as the entry's
   * options allow. Values are shared between callers: treat them as immutable.
   *
   * @example
   * const c = await cache.getOrSet(key, ({ signal }) => db.findCase(id, signal), { ttl: 30_000, tags: [`case:${id}`] });
   */
  getOrSet<T>(key: CacheKey, loader: Loader<T>, options?: GetOrSetOptions, signal?: AbortSignal): Promise<T> {
    const entry = this.#l1.get(key);
    if (entry !== undefined && entry.freshUntil > this.#clock.now() && this.#current(entry)) {
      this.#s.requests.l1.hit++;
      if (this.#requested.active) this.#request('l1', 'hit');
      return entry.promise as Promise<T>;
    }
    return this.#loads.resolve(key, loader as Loader<unknown>, options, signal, entry).then(entryValue<T>);
  }

  /**
   * Like `getOrSet`, but answers the entry: the value with its serialized bytes and strong ETag, ready to send.
   *
   * @example
   * const e = await cache.getOrSetEntry(key, load);
   * reply.header('etag', e.etag).type('application/json').send(e.bytes);
   */
  getOrSetEntry<T>(
    key: CacheKey,
    loader: Loader<T>,
    options?: GetOrSetOptions,
    signal?: AbortSignal,
  ): Promise<CachedEntry<T>> {
    const entry = this.#l1.get(key);
    if (entry !== undefined && entry.freshUntil > this.#clock.now() && this.#current(entry)) {
      this.#s.requests.l1.hit++;
      if (this.#requested.active) this.#request('l1', 'hit');
      return Promise.resolve(entry as L1Entry<T>);
    }
    return this.#loads.resolve(key, loader as Loader<unknown>, options, signal, entry) as Promise<L1Entry<T>>;
  }

  /**
   * The fresh value in L1, synchronously, or undefined (no L2 lookup, no load): the fastest read there is.
   *
   * @example
   * const hit = cache.peek<Case>(key) ?? (await cache.getOrSet(key, load));
   */
  peek<T>(key: CacheKey): T | undefined {
    return this.peekEntry<T>(key)?.value;
  }

  /**
   * The fresh entry in L1, synchronously, or undefined: `peek` with the serialized bytes and ETag, so a hit
   * can be answered with no promise at all. A hit counts as a hit; a miss counts nothing (the read that
   * follows counts it).
   *
   * @example
   * const hit = cache.peekEntry(key);
   * if (hit) return reply.header('etag', hit.etag).send(hit.bytes);
   */
  peekEntry<T>(key: CacheKey): CachedEntry<T> | undefined {
    const entry = this.#l1.get(key);
    if (entry !== undefined && entry.freshUntil > this.#clock.now() && this.#current(entry)) {
      this.#s.requests.l1.hit++;
      if (this.#requested.active) this.#request('l1', 'hit');
      return entry as L1Entry<T>;
    }
    return undefined;
  }

  /**
   * The entry for `key` from L1 or L2 (fresh or within stale-while-revalidate), without loading.
   *
   * @example
   * const e = await cache.getEntry<Case>(key); if (e) reply.header('etag', e.etag).send(e.bytes);
   */
  async getEntry<T>(key: CacheKey): Promise<CachedEntry<T> | undefined> {
    const now = this.#clock.now();
    const entry = this.#l1.get(key);
    if (entry !== undefined && now < entry.swrUntil && this.#current(entry)) {
      this.#count('l1', entry.freshUntil > now ? 'hit' : 'stale');
      return entry as L1Entry<T>;
    }
    this.#count('l1', 'miss');
    if (this.#l2 === undefined) return undefined;
    const stored = await l2Call(this.#core, 'get', (l2) => l2.get(this.#prefix + key));
    if (stored === FAILED) return undefined;
    if (stored === undefined || now >= stored.swrUntil) {
      this.#count('l2', 'miss');
      return undefined;
    }
    this.#count('l2', stored.freshUntil > now ? 'hit' : 'stale');
    return this.#loads.adopt(key, stored) as L1Entry<T> | undefined;
  }

  /**
   * Stores `value` now. L1 is updated before the promise resolves; L2 and the other instances' L1s once it has.
   * L2 failures are counted, not thrown.
   *
   * @example
   * await cache.set(cacheKey({ tenant }, 'case', id), updated, { tags: [`case:${id}`] });
   */
  async set<T>(key: CacheKey, value: T, options?: GetOrSetOptions): Promise<void> {
    if (this.#core.closed) throw closedError(this.name);
    const o = resolveEntryOptions('cache.set', this.#defaults, options);
    const tags = o.tags.length > 0 ? scopedTags(scopeOfKey(key), o.tags) : NO_TAGS;
    const versions = await this.#loads.versionsFor(tags);
    const entry = this.#loads.makeEntry(key, value, o, tags, versions);
    if (entry === undefined) return this.delete(key);
    this.#l1.set(entry);
    await this.#loads.store(key, entry, undefined);
  }

  /**
   * Removes `key` from this L1 at once, then from L2 and from the other instances' L1s.
   *
   * @example
   * await cache.delete(cacheKey({ tenant }, 'case', id));
   */
  async delete(key: CacheKey): Promise<void> {
    this.#l1.delete(key);
    if (this.#l2 === undefined) return;
    const storeKey = this.#prefix + key;
    await l2Call(this.#core, 'delete', (l2) => l2.delete([storeKey]));
    await publish(this.#core, { type: 'delete', cache: this.name, keys: [storeKey] });
  }

  /**
   * Invalidates every entry carrying one of `tags` in `scope`, in every cache sharing the L2 or the bus. Costs O(1)
   * per tag however many entries carry it: each tag's version moves on, and entries recorded under an older version
   * are refused on read (L1 checks its known versions, L2 checks the stored ones). This L1 refuses them before the
   * promise resolves; other instances once the bus message arrives. Why versions and not tag→keys sets: a set must
   * be walked (O(keys)) and kept in step with evictions and expiry, while a version check is a few map lookups.
   *
   * @example
   * await cache.invalidateTags({ tenant: 'acme' }, ['case:42']); // beta's case:42 is untouched
   */
  async invalidateTags(scope: CacheScope, tags: readonly string[]): Promise<void> {
    const scoped = scopedTags(scope, tags);
    if (scoped.length === 0) return;
    if (this.#l2 === undefined) {
      for (const tag of scoped) this.#tags.bump(tag);
      return;
    }
    for (const tag of scoped) this.#tags.suspend(tag); // refused from now on, until the new version is known
    const versions = await l2Call(this.#core, 'invalidateTags', (l2) => l2.invalidateTags(scoped));
    if (versions === FAILED) {
      for (const tag of scoped) this.#tags.bump(tag);
      return;
    }
    this.#tags.observe(scoped, versions);
    await publish(this.#core, { type: 'tags', tags: scoped, versions });
  }

  /** Empties this L1 (not L2, not other instances). */
  clearLocal(): void {
    this.#l1.clear();
    this.#tags.clear();
  }

  /**
   * Figures for an admin endpoint and for metrics collected at scrape time.
   *
   * @example
   * app.get('/admin/cache', () => cache.stats());
   */
  stats(): CacheStats {
    return cacheStats(
      this.#core,
      { maxEntries: this.#maxEntries, maxBytes: this.#maxBytes },
      this.#loads.inflight,
    );
  }

  /**
   * Resolves once no load, refresh, L2 write or publish runs (tests, graceful shutdown).
   *
   * @example
   * cache.getOrSet(key, load); await clock.tick(ttl); await cache.whenIdle();
   */
  async whenIdle(): Promise<void> {
    while (this.#core.pending.size > 0) await Promise.allSettled([...this.#core.pending]);
  }

  /** Stops listening to the bus, aborts running loaders and waits for background work. Owned stores stay open. */
  async close(): Promise<void> {
    if (this.#core.closed) return;
    this.#core.closed = true;
    for (const sub of this.#subscriptions) sub.dispose();
    this.#loads.waits.wakeAll('timeout');
    this.#core.closing.abort(closedError(this.name));
    await this.whenIdle();
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  #current(entry: L1Entry): boolean {
    return entry.tags.length === 0 || this.#tags.isCurrent(entry.tags, entry.tagVersions);
  }

  // ---- L2 and bus plumbing -------------------------------------------------------------------------------------

  // Messages may have been missed while the subscription was down: L1 and the known tag versions may be stale.
  #onBusReconnect(): void {
    this.#s.busReconnects++;
    this.clearLocal();
  }

  #count(tier: CacheTier, result: CacheResult): void {
    this.#s.requests[tier][result]++;
    if (this.#requested.active) this.#request(tier, result);
  }

  #request(tier: CacheTier, result: CacheResult): void {
    this.#requested.emit({ cache: this.name, tier, result });
  }

  #loadEvent(refresh: boolean, outcome: CacheLoadEvent['outcome'], started: number, error: unknown): void {
    if (!this.#loaded.active) return;
    const durationMs = this.#clock.monotonic() - started;
    this.#loaded.emit({
      cache: this.name,
      refresh,
      outcome,
      durationMs,
      ...(error === undefined ? {} : { error }),
    });
  }

  #fail(operation: string, error: unknown, rejected: boolean): void {
    if (rejected) this.#s.l2Rejected++;
    else this.#s.l2Errors++;
    if (this.#failed.active) this.#failed.emit({ cache: this.name, operation, rejected, error });
  }
}

/**
 * Creates a cache: a bounded L1 in this process, optionally in front of a shared L2 with an invalidation bus.
 *
 * @example
 * import { cacheKey, createCache } from '@headroom/core/cache';
 * import { createRedisClients, redisBus, redisStore } from '@headroom/core/cache/redis';
 * const { client, subscriber } = createRedisClients(process.env.REDIS_URL);
 * const cases = createCache({
 *   name: 'cases', ttl: 30_000, staleWhileRevalidate: 60_000, grace: 300_000, hardTimeout: 2_000,
 *   l2: redisStore({ client }), bus: redisBus({ client, subscriber }),
 * });
 */
export function createCache(options: CacheOptions = {}): Cache {
  return new Cache(options);
}
