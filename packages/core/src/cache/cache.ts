// createCache: L1 in process, optional shared L2, stale-while-revalidate, grace, negative caching, timeouts, local and
// distributed singleflight, tags, and an invalidation bus. Every L2 and bus call is guarded and fails open.

import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock/index.ts';
import { abortedError, isBrokenCircuitError } from '../policy/errors.ts';
import { Emitter, type Subscribe } from '../policy/events.ts';
import { checkClock, checkFunction, checkNumber, invalidOption, withDefaults } from '../policy/options.ts';
import type { Policy } from '../policy/policy.ts';
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
  L1Entry,
  type Serializer,
  type StoredEntry,
} from './entry.ts';
import { closedError, serializeError } from './errors.ts';
import { RemoteWaits } from './remote-waits.ts';
import { type LoadContext, type Loader, orAfter, runLoader } from './run-loader.ts';
import { SieveCache } from './sieve-cache.ts';
import type { BusMessage, CacheBus, CacheStore } from './store.ts';
import { TagVersions } from './tag-versions.ts';

const FAILED: unique symbol = Symbol('l2 failed');
type Failed = typeof FAILED;
const NO_TAGS: readonly string[] = Object.freeze([]);
const NAME = /^[A-Za-z0-9._-]+$/;

interface Flight {
  promise: Promise<L1Entry>;
  /** Set when the flight adopted a stale L2 entry: refresh it once the flight is done. */
  refreshAfter: boolean;
}

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
  readonly #inflight = new Map<string, Flight>();
  readonly #waits = new RemoteWaits();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #closing = new AbortController();
  readonly #subscriptions: { dispose(): void }[] = [];
  readonly #s = new CacheCounters();
  #leaseSeq = 0;
  #closed = false;

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
    if (this.#bus) {
      this.#subscriptions.push(this.#bus.subscribe((message) => this.#onBusMessage(message)));
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
    return this.#resolve(key, loader as Loader<unknown>, options, signal, entry).then(entryValue<T>);
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
    return this.#resolve(key, loader as Loader<unknown>, options, signal, entry) as Promise<L1Entry<T>>;
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
    const stored = await this.#l2Call('get', (l2) => l2.get(this.#prefix + key));
    if (stored === FAILED) return undefined;
    if (stored === undefined || now >= stored.swrUntil) {
      this.#count('l2', 'miss');
      return undefined;
    }
    this.#count('l2', stored.freshUntil > now ? 'hit' : 'stale');
    return this.#adopt(key, stored) as L1Entry<T> | undefined;
  }

  /**
   * Stores `value` now. L1 is updated before the promise resolves; L2 and the other instances' L1s once it has.
   * L2 failures are counted, not thrown.
   *
   * @example
   * await cache.set(cacheKey({ tenant }, 'case', id), updated, { tags: [`case:${id}`] });
   */
  async set<T>(key: CacheKey, value: T, options?: GetOrSetOptions): Promise<void> {
    if (this.#closed) throw closedError(this.name);
    const o = resolveEntryOptions('cache.set', this.#defaults, options);
    const tags = o.tags.length > 0 ? scopedTags(scopeOfKey(key), o.tags) : NO_TAGS;
    const versions = await this.#versionsFor(tags);
    const entry = this.#makeEntry(key, value, o, tags, versions);
    if (entry === undefined) return this.delete(key);
    this.#l1.set(entry);
    await this.#store(key, entry, undefined);
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
    await this.#l2Call('delete', (l2) => l2.delete([storeKey]));
    await this.#publish({ type: 'delete', cache: this.name, keys: [storeKey] });
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
    const versions = await this.#l2Call('invalidateTags', (l2) => l2.invalidateTags(scoped));
    if (versions === FAILED) {
      for (const tag of scoped) this.#tags.bump(tag);
      return;
    }
    this.#tags.observe(scoped, versions);
    await this.#publish({ type: 'tags', tags: scoped, versions });
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
    const s = this.#s;
    const breaker = (this.#breaker as { state?: unknown }).state;
    return {
      name: this.name,
      instanceId: this.instanceId,
      l1: {
        entries: this.#l1.size,
        bytes: this.#l1.bytes,
        maxEntries: this.#maxEntries,
        maxBytes: this.#maxBytes,
        evictions: this.#l1.evictions,
        tags: this.#tags.size,
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
        inflight: this.#inflight.size,
      },
      l2: {
        store: this.#l2?.name,
        breaker: typeof breaker === 'string' ? breaker : undefined,
        errors: s.l2Errors,
        rejected: s.l2Rejected,
      },
      bus: {
        healthy: this.#bus?.healthy,
        received: s.busReceived,
        published: s.busPublished,
        reconnects: s.busReconnects,
        lastLagMs: s.lastLagMs,
        maxLagMs: s.maxLagMs,
        meanLagMs: s.busReceived > 0 ? s.lagTotal / s.busReceived : undefined,
      },
    };
  }

  /**
   * Resolves once no load, refresh, L2 write or publish runs (tests, graceful shutdown).
   *
   * @example
   * cache.getOrSet(key, load); await clock.tick(ttl); await cache.whenIdle();
   */
  async whenIdle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops listening to the bus, aborts running loaders and waits for background work. Owned stores stay open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subscriptions) sub.dispose();
    this.#waits.wakeAll('timeout');
    this.#closing.abort(closedError(this.name));
    await this.whenIdle();
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  #current(entry: L1Entry): boolean {
    return entry.tags.length === 0 || this.#tags.isCurrent(entry.tags, entry.tagVersions);
  }

  async #resolve(
    key: CacheKey,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    signal: AbortSignal | undefined,
    entry: L1Entry | undefined,
  ): Promise<L1Entry> {
    if (this.#closed) throw closedError(this.name);
    if (signal?.aborted) throw abortedError(signal);
    const now = this.#clock.now();
    let stale: L1Entry | undefined;
    if (entry !== undefined) {
      if (!this.#current(entry) || now >= entry.staleUntil) {
        this.#l1.delete(key); // invalidated by a tag, or past every stale window
      } else if (entry.freshUntil > now) {
        this.#count('l1', 'hit'); // fresh after all (a hit that raced an invalidation message)
        return entry;
      } else if (now < entry.swrUntil) {
        this.#count('l1', 'stale');
        if (now >= entry.retryAt) this.#refresh(key, loader, options, entry);
        return entry;
      } else if (now < entry.retryAt) {
        this.#count('l1', 'stale'); // within grace, and the loader is backing off after a failure
        this.#s.graceServed++;
        return entry;
      } else {
        stale = entry; // within grace only: the fallback if the load fails
      }
    }
    if (stale === undefined) this.#count('l1', 'miss');
    const o = resolveEntryOptions('cache.getOrSet', this.#defaults, options);
    let flight = this.#inflight.get(key);
    if (flight === undefined) flight = this.#startFlight(key, loader, o, stale, false);
    else this.#s.joined++;
    let work = flight.promise;
    if (signal !== undefined) work = untilAborted(work, signal);
    if (stale === undefined) return work;
    if (Number.isFinite(o.timeout)) work = orAfter(work, this.#clock, o.timeout, stale);
    try {
      const result = await work;
      if (result === stale) this.#s.graceServed++;
      return result;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#s.graceServed++;
      return stale;
    }
  }

  #refresh(
    key: CacheKey,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    stale: L1Entry,
  ): void {
    if (this.#inflight.has(key) || this.#closed) return;
    const o = resolveEntryOptions('cache.getOrSet', this.#defaults, options);
    this.#startFlight(key, loader, o, stale, true).promise.catch(() => {}); // counted in #load
  }

  #startFlight(
    key: CacheKey,
    loader: Loader<unknown>,
    o: ResolvedEntryOptions,
    stale: L1Entry | undefined,
    refresh: boolean,
  ): Flight {
    const flight: Flight = { promise: undefined as unknown as Promise<L1Entry>, refreshAfter: false };
    const run = this.#fly(key, loader, o, stale, refresh, flight);
    flight.promise = run;
    this.#inflight.set(key, flight);
    const done = run
      .catch(() => undefined)
      .then((entry) => {
        if (this.#inflight.get(key) === flight) this.#inflight.delete(key);
        this.#pending.delete(done);
        if (flight.refreshAfter && entry !== undefined) this.#refresh(key, loader, o, entry);
      });
    this.#pending.add(done);
    return flight;
  }

  // L2, then the lease (distributed singleflight), then the loader.
  async #fly(
    key: CacheKey,
    loader: Loader<unknown>,
    o: ResolvedEntryOptions,
    stale: L1Entry | undefined,
    refresh: boolean,
    flight: Flight,
  ): Promise<L1Entry> {
    if (this.#l2 === undefined) return this.#load(key, loader, o, stale, refresh, undefined);
    const storeKey = this.#prefix + key;
    const found = await this.#fromL2(key, storeKey, stale, refresh);
    if (found !== undefined) {
      if (found.freshUntil <= this.#clock.now()) flight.refreshAfter = true;
      return found;
    }
    for (let round = 0; round < 3 && this.#bus?.healthy === true; round++) {
      const wait = this.#waits.register(storeKey);
      try {
        const token = `${this.instanceId}:${++this.#leaseSeq}`;
        const leased = await this.#l2Call('acquireLease', (l2) =>
          l2.acquireLease(storeKey, token, this.#leaseTtl),
        );
        if (leased === FAILED) break;
        if (leased) return await this.#load(key, loader, o, stale, refresh, token);
        this.#s.waitedRemote++;
        const again = await this.#fromL2(key, storeKey, stale, refresh, false);
        if (again !== undefined) return again;
        const bound = Math.min(this.#leaseTtl, o.hardTimeout);
        const outcome = await wait.until(this.#clock, bound);
        if (outcome === 'timeout') break;
        const filled = await this.#fromL2(key, storeKey, stale, refresh, false);
        if (filled !== undefined) return filled;
      } finally {
        wait.dispose();
      }
    }
    return this.#load(key, loader, o, stale, refresh, undefined);
  }

  // A servable L2 entry (fresh, or stale within stale-while-revalidate for a plain read), adopted into L1.
  async #fromL2(
    key: CacheKey,
    storeKey: string,
    stale: L1Entry | undefined,
    refresh: boolean,
    count = true,
  ): Promise<L1Entry | undefined> {
    const stored = await this.#l2Call('get', (l2) => l2.get(storeKey));
    if (stored === FAILED) return undefined;
    const now = this.#clock.now();
    const servable =
      stored !== undefined &&
      (stored.freshUntil > now || (!refresh && now < stored.swrUntil)) &&
      (stale === undefined || stored.createdAt >= stale.createdAt);
    if (count) this.#count('l2', !servable ? 'miss' : stored.freshUntil > now ? 'hit' : 'stale');
    return servable ? this.#adopt(key, stored) : undefined;
  }

  #adopt(key: CacheKey, stored: StoredEntry): L1Entry | undefined {
    let value: unknown;
    try {
      value = stored.notFound ? undefined : this.#serializer.deserialize(stored.bytes);
    } catch (error) {
      this.#fail('deserialize', serializeError(this.name, error), false);
      return undefined;
    }
    if (stored.tags.length > 0) this.#tags.observe(stored.tags, stored.tagVersions);
    const entry = L1Entry.fromStored(key, stored, value);
    this.#l1.set(entry);
    return entry;
  }

  // ---- loads and writes ----------------------------------------------------------------------------------------

  async #load(
    key: CacheKey,
    loader: Loader<unknown>,
    o: ResolvedEntryOptions,
    stale: L1Entry | undefined,
    refresh: boolean,
    lease: string | undefined,
  ): Promise<L1Entry> {
    const storeKey = this.#prefix + key;
    const tags = o.tags.length > 0 ? scopedTags(scopeOfKey(key), o.tags) : NO_TAGS;
    const versions = await this.#versionsFor(tags);
    const controller = new AbortController();
    const onClose = () => controller.abort(this.#closing.signal.reason);
    this.#closing.signal.addEventListener('abort', onClose);
    const context: LoadContext<unknown> = { signal: controller.signal, key, stale: stale?.value };
    const started = this.#clock.monotonic();
    this.#s.loads++;
    if (refresh) this.#s.refreshes++;
    let value: unknown;
    try {
      value = await runLoader(loader, context, controller, this.#clock, o.hardTimeout, this.name);
    } catch (error) {
      const timedOut = controller.signal.aborted && controller.signal.reason === error;
      this.#s.loadErrors++;
      if (timedOut) this.#s.loadTimeouts++;
      this.#loadEvent(refresh, timedOut ? 'timeout' : 'error', started, error);
      if (stale !== undefined) stale.retryAt = this.#clock.now() + o.graceBackoff;
      if (lease !== undefined) this.#background(this.#release(storeKey, lease));
      throw error;
    } finally {
      this.#closing.signal.removeEventListener('abort', onClose);
    }
    this.#loadEvent(refresh, 'ok', started, undefined);
    const entry = this.#makeEntry(key, value, o, tags, versions);
    if (entry === undefined) {
      // "Not found", not cached: hand it to this flight's callers only.
      if (lease !== undefined) this.#background(this.#release(storeKey, lease));
      return L1Entry.create(
        key,
        value,
        EMPTY,
        { createdAt: 0, freshUntil: 0, swrUntil: 0, graceUntil: 0 },
        true,
        NO_TAGS,
        [],
      );
    }
    if (this.#current(entry)) this.#l1.set(entry);
    else this.#s.outdated++; // a tag moved while the loader ran: callers get the value, nobody else will
    if (this.#l2 !== undefined) this.#background(this.#store(key, entry, lease));
    return entry;
  }

  #makeEntry(
    key: CacheKey,
    value: unknown,
    o: ResolvedEntryOptions,
    tags: readonly string[],
    versions: readonly number[],
  ): L1Entry | undefined {
    const now = this.#clock.now();
    if (value === undefined || value === null) {
      if (o.negativeTtl <= 0) return undefined;
      const until = now + o.negativeTtl;
      const times = { createdAt: now, freshUntil: until, swrUntil: until, graceUntil: until };
      return L1Entry.create(key, value, EMPTY, times, true, tags, versions);
    }
    let bytes: Buffer;
    try {
      const out = this.#serializer.serialize(value);
      bytes = typeof out === 'string' ? Buffer.from(out) : out;
    } catch (error) {
      throw serializeError(this.name, error);
    }
    const ttl = o.jitter > 0 ? o.ttl * (1 - o.jitter * this.#random()) : o.ttl;
    const freshUntil = now + ttl;
    const times = {
      createdAt: now,
      freshUntil,
      swrUntil: freshUntil + o.staleWhileRevalidate,
      graceUntil: freshUntil + o.grace,
    };
    return L1Entry.create(key, value, bytes, times, false, tags, versions);
  }

  // Current versions of `tags`, recorded in an entry before its load begins: from L2 when there is one.
  async #versionsFor(tags: readonly string[]): Promise<readonly number[]> {
    if (tags.length === 0) return [];
    if (this.#l2 !== undefined) {
      const versions = await this.#l2Call('tagVersions', (l2) => l2.tagVersions(tags));
      if (versions !== FAILED) {
        this.#tags.observe(tags, versions);
        return versions;
      }
    }
    return tags.map((tag) => this.#tags.get(tag));
  }

  async #store(key: CacheKey, entry: L1Entry, lease: string | undefined): Promise<void> {
    const storeKey = this.#prefix + key;
    const result = await this.#l2Call('set', (l2) =>
      l2.set(storeKey, entry, lease === undefined ? {} : { lease }),
    );
    if (result === FAILED) return;
    if (result === 'stored') {
      await this.#publish({ type: 'set', cache: this.name, keys: [storeKey] });
      return;
    }
    if (result === 'fenced') this.#s.fenced++;
    else {
      this.#s.outdated++;
      if (this.#l1.peek(key) === entry) this.#l1.delete(key);
    }
    if (lease !== undefined) await this.#release(storeKey, lease);
  }

  async #release(storeKey: string, lease: string): Promise<void> {
    const released = await this.#l2Call('releaseLease', (l2) => l2.releaseLease(storeKey, lease));
    if (released !== FAILED) await this.#publish({ type: 'released', cache: this.name, keys: [storeKey] });
  }

  #background(work: Promise<unknown>): void {
    const done = work.catch(() => {}).finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  // ---- L2 and bus plumbing -------------------------------------------------------------------------------------

  async #l2Call<R>(operation: string, fn: (l2: CacheStore) => Promise<R>): Promise<R | Failed> {
    const l2 = this.#l2!;
    try {
      return await this.#breaker.execute(() => fn(l2));
    } catch (error) {
      this.#fail(`l2.${operation}`, error, isBrokenCircuitError(error));
      if (operation === 'get') this.#count('l2', 'error');
      return FAILED;
    }
  }

  async #publish(message: {
    type: BusMessage['type'];
    cache?: string;
    keys?: string[];
    tags?: string[];
    versions?: number[];
  }): Promise<void> {
    const bus = this.#bus;
    if (bus === undefined) return;
    const full = { ...message, origin: this.instanceId, sentAt: this.#clock.now() } as BusMessage;
    try {
      await this.#breaker.execute(() => bus.publish(full));
      this.#s.busPublished++;
    } catch (error) {
      this.#fail('bus.publish', error, isBrokenCircuitError(error));
    }
  }

  #onBusMessage(message: BusMessage): void {
    if (message.origin === this.instanceId) return; // our own echo
    const lag = Math.max(0, this.#clock.now() - message.sentAt);
    const s = this.#s;
    s.busReceived++;
    s.lastLagMs = lag;
    s.lagTotal += lag;
    if (lag > s.maxLagMs) s.maxLagMs = lag;
    if (this.#busLag.active) this.#busLag.emit({ cache: this.name, type: message.type, lagMs: lag });
    if (message.type === 'tags') {
      this.#tags.observe(message.tags, message.versions);
      return;
    }
    if (message.cache !== this.name) return;
    if (message.type === 'clear') {
      this.#l1.clear();
      return;
    }
    for (const storeKey of message.keys) {
      if (message.type !== 'released') this.#l1.delete(storeKey.slice(this.#prefix.length));
      this.#waits.wake(storeKey, message.type === 'released' ? 'released' : 'set');
    }
  }

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

// Settles with `work`, or rejects as soon as `signal` aborts (the shared load goes on for the other callers).
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortedError(signal));
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const onAbort = () => reject(abortedError(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  return promise;
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
