// createCache: L1 in process, optional shared L2, stale-while-revalidate, grace, negative caching, timeouts, local and
// distributed singleflight, tags, and an invalidation bus. Every L2 and bus call is guarded and fails open.

import type { Clock } from '../clock/index.ts';
import type { Policy } from '../policy/index.ts';
import type { Disposable, Subscribe } from '../shared/events.ts';
import { type CacheCore, cacheStats, FAILED, l2Call, publish } from './cache-core.ts';
import {
  type CacheBusEvent,
  CacheCounters,
  type CacheErrorEvent,
  CacheEvents,
  type CacheLoadEvent,
  type CacheRequestEvent,
  type CacheStats,
} from './cache-events.ts';
import { type CacheKey, type CacheScope, scopedTags, scopeOfKey } from './cache-key.ts';
import {
  type CacheOptions,
  type GetOrSetOptions,
  type ResolvedEntryOptions,
  resolveCacheOptions,
  resolveEntryOptions,
} from './cache-options.ts';
import { type CachedEntry, type L1Entry, NO_TAGS } from './entry.ts';
import { closedError } from './errors.ts';
import { L2Tier } from './l2-tier.ts';
import { listenToBus } from './listen-to-bus.ts';
import { Loads } from './loads.ts';
import type { Loader } from './run-loader.ts';
import { SieveCache } from './sieve-cache.ts';
import type { CacheStore } from './store.ts';
import { TagVersions } from './tag-versions.ts';

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
  readonly #l2: CacheStore | undefined;
  readonly #tags: TagVersions;
  readonly #clock: Clock;
  readonly #defaults: ResolvedEntryOptions;
  readonly #prefix: string;
  readonly #limits: { maxEntries: number; maxBytes: number };
  readonly #subscriptions: Disposable[] = [];
  readonly #s = new CacheCounters();
  readonly #events: CacheEvents;
  readonly #core: CacheCore;
  readonly #l2Tier: L2Tier;
  readonly #loads: Loads;

  /** Every lookup in each tier (`headroom_cache_requests_total{cache,tier,result}`). Emitted only while subscribed. */
  readonly onRequest: Subscribe<CacheRequestEvent>;
  /** Every loader run, with its outcome and duration. */
  readonly onLoad: Subscribe<CacheLoadEvent>;
  /** Every bus message from another instance, with its lag. */
  readonly onBusMessage: Subscribe<CacheBusEvent>;
  /** Every L2 or bus failure the cache absorbed. */
  readonly onError: Subscribe<CacheErrorEvent>;

  constructor(options: CacheOptions = {}) {
    const o = resolveCacheOptions(options);
    this.name = o.name;
    this.instanceId = o.instanceId;
    this.#prefix = `${o.name}|`;
    this.#limits = { maxEntries: o.maxEntries, maxBytes: o.maxBytes };
    this.#l1 = new SieveCache(this.#limits);
    this.#l2 = o.l2;
    this.#tags = new TagVersions(o.maxTags);
    this.#clock = o.clock;
    this.#defaults = o.defaults;
    this.#events = new CacheEvents(this.name, this.#clock, this.#s);
    this.onRequest = this.#events.requested.subscribe;
    this.onLoad = this.#events.loaded.subscribe;
    this.onBusMessage = this.#events.busLag.subscribe;
    this.onError = this.#events.failed.subscribe;
    this.#core = {
      name: this.name,
      instanceId: this.instanceId,
      prefix: this.#prefix,
      l1: this.#l1,
      l2: this.#l2,
      bus: o.bus,
      breaker: o.l2Breaker,
      tags: this.#tags,
      serializer: o.serializer,
      clock: this.#clock,
      random: o.random,
      defaults: this.#defaults,
      leaseTtl: o.leaseTtl,
      s: this.#s,
      pending: new Set(),
      closing: new AbortController(),
      closed: false,
      events: this.#events,
      current: (entry) => this.#current(entry),
    };
    this.#l2Tier = new L2Tier(this.#core);
    this.#loads = new Loads(this.#core, this.#l2Tier);
    if (o.bus) {
      this.#subscriptions.push(...listenToBus(this.#core, o.bus, this.#loads.waits, () => this.clearLocal()));
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
    if (this.#hit(entry)) return entry.promise as Promise<T>;
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
    if (this.#hit(entry)) return Promise.resolve(entry as L1Entry<T>);
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
    return this.#hit(entry) ? (entry as L1Entry<T>) : undefined;
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
      this.#events.count('l1', entry.freshUntil > now ? 'hit' : 'stale');
      return entry as L1Entry<T>;
    }
    this.#events.count('l1', 'miss');
    if (this.#l2 === undefined) return undefined;
    const stored = await l2Call(this.#core, 'get', (l2) => l2.get(this.#prefix + key));
    if (stored === FAILED) return undefined;
    if (stored === undefined || now >= stored.swrUntil) {
      this.#events.count('l2', 'miss');
      return undefined;
    }
    this.#events.count('l2', stored.freshUntil > now ? 'hit' : 'stale');
    return this.#l2Tier.adopt(key, stored) as L1Entry<T> | undefined;
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
    const versions = await this.#l2Tier.versionsFor(tags);
    const entry = this.#loads.makeEntry(key, value, o, tags, versions);
    if (entry === undefined) return this.delete(key);
    this.#l1.set(entry);
    if (this.#core.l2 !== undefined) await this.#l2Tier.store(key, entry, undefined);
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
   * The policy every L2 and bus call goes through (`l2Breaker`, by default a circuit breaker named
   * `cache:<name>:l2`), or undefined when the cache has neither L2 nor bus. Read-only: so metrics, health and
   * admin can track the breaker itself rather than poll `stats()`.
   *
   * @example
   * const breaker = cache.l2Breaker; // app.headroom.caches.add(cache) tracks it with the app's breakers
   */
  get l2Breaker(): Policy | undefined {
    return this.#core.l2 === undefined && this.#core.bus === undefined ? undefined : this.#core.breaker;
  }

  /**
   * Figures for an admin endpoint and for metrics collected at scrape time.
   *
   * @example
   * app.get('/admin/cache', () => cache.stats());
   */
  stats(): CacheStats {
    return cacheStats(this.#core, this.#limits, this.#loads.inflight);
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

  /** Whether `entry` is fresh and current, counted as an L1 hit when it is. */
  #hit(entry: L1Entry | undefined): entry is L1Entry {
    if (entry === undefined || entry.freshUntil <= this.#clock.now() || !this.#current(entry)) return false;
    this.#events.count('l1', 'hit');
    return true;
  }

  #current(entry: L1Entry): boolean {
    return entry.tags.length === 0 || this.#tags.isCurrent(entry.tags, entry.tagVersions);
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
