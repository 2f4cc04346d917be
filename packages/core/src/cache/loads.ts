// The miss path of a cache: stale handling, one flight per key in this process, the lease rounds that make one
// loader run across instances (waiters are woken by the bus, not by polling), the load itself, and the entry it
// makes.

import { orAfter } from '../clock/or-after.ts';
import { abortedError } from '../errors/index.ts';
import { untilAborted } from '../shared/abort.ts';
import { background, type CacheCore, FAILED } from './cache-core.ts';
import { type CacheKey, scopedTags, scopeOfKey } from './cache-key.ts';
import { type GetOrSetOptions, type ResolvedEntryOptions, resolveEntryOptions } from './cache-options.ts';
import { EMPTY, L1Entry, NO_TAGS } from './entry.ts';
import { closedError, serializeError } from './errors.ts';
import type { L2Tier } from './l2-tier.ts';
import { RemoteWaits } from './remote-waits.ts';
import { type LoadContext, type Loader, runLoader } from './run-loader.ts';

/** How often an instance waiting on another's lease looks at L2 even without a bus notice. */
const RECHECK_MS = 500;

interface Flight {
  promise: Promise<L1Entry>;
  /** Set when the flight adopted a stale L2 entry: refresh it once the flight is done. */
  refreshAfter: boolean;
}

/** Loads of one cache; `Cache` hands it every read L1 cannot answer fresh. */
export class Loads {
  readonly #c: CacheCore;
  readonly #l2: L2Tier;
  readonly #inflight = new Map<string, Flight>();
  /** Waiters for another instance's load of a key, woken by its bus message. */
  readonly waits = new RemoteWaits();

  constructor(core: CacheCore, l2: L2Tier) {
    this.#c = core;
    this.#l2 = l2;
  }

  /** Flights running in this process now. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** The miss path of a read: stale handling, then this process's flight for `key` (or a new one). */
  async resolve(
    key: CacheKey,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    signal: AbortSignal | undefined,
    entry: L1Entry | undefined,
  ): Promise<L1Entry> {
    if (this.#c.closed) throw closedError(this.#c.name);
    if (signal?.aborted) throw abortedError(signal);
    const now = this.#c.clock.now();
    let stale: L1Entry | undefined;
    if (entry !== undefined) {
      if (!this.#c.current(entry) || now >= entry.staleUntil) {
        this.#c.l1.delete(key); // invalidated by a tag, or past every stale window
      } else if (entry.freshUntil > now) {
        this.#c.events.count('l1', 'hit'); // fresh after all (a hit that raced an invalidation message)
        return entry;
      } else if (now < entry.swrUntil) {
        this.#c.events.count('l1', 'stale');
        if (now >= entry.retryAt) this.#refresh(key, loader, options, entry);
        return entry;
      } else if (now < entry.retryAt) {
        this.#c.events.count('l1', 'stale'); // within grace, and the loader is backing off after a failure
        this.#c.s.graceServed++;
        return entry;
      } else {
        stale = entry; // within grace only: the fallback if the load fails
      }
    }
    if (stale === undefined) this.#c.events.count('l1', 'miss');
    const o = resolveEntryOptions('cache.getOrSet', this.#c.defaults, options);
    let flight = this.#inflight.get(key);
    if (flight === undefined) flight = this.#startFlight(key, loader, o, stale, false);
    else this.#c.s.joined++;
    let work = flight.promise;
    if (signal !== undefined) work = untilAborted(work, signal);
    if (stale === undefined) return work;
    if (Number.isFinite(o.timeout)) work = orAfter(work, this.#c.clock, o.timeout, stale);
    try {
      const result = await work;
      if (result === stale) this.#c.s.graceServed++;
      return result;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#c.s.graceServed++;
      return stale;
    }
  }

  #refresh(
    key: CacheKey,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    stale: L1Entry,
  ): void {
    if (this.#inflight.has(key) || this.#c.closed) return;
    const o = resolveEntryOptions('cache.getOrSet', this.#c.defaults, options);
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
    const settled = run.catch(() => undefined);
    background(
      this.#c,
      settled.then((entry) => {
        if (this.#inflight.get(key) === flight) this.#inflight.delete(key);
        if (flight.refreshAfter && entry !== undefined) this.#refresh(key, loader, o, entry);
      }),
    );
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
    if (this.#c.l2 === undefined) return this.#load(key, loader, o, stale, refresh, undefined);
    const storeKey = this.#c.prefix + key;
    const found = await this.#l2.read(key, storeKey, stale, refresh);
    if (found !== undefined) {
      if (found.freshUntil <= this.#c.clock.now()) flight.refreshAfter = true;
      return found;
    }
    // Wait for the lease holder at most min(leaseTtl, hardTimeout) in all, woken by its bus notice; look at L2
    // again every RECHECK_MS as well, because a notice can be lost (the holder's write or publish timed out on its
    // side while Redis did the work, or the holder died) and one lost notice must not cost the whole lease.
    const deadline = this.#c.clock.monotonic() + Math.min(this.#c.leaseTtl, o.hardTimeout);
    let waited = false;
    while (this.#c.bus?.healthy === true) {
      const left = deadline - this.#c.clock.monotonic();
      if (left <= 0) break;
      const wait = this.waits.register(storeKey);
      try {
        const lease = await this.#l2.lease(storeKey);
        if (lease === FAILED) break;
        if (lease !== undefined) {
          // Another instance may have loaded and stored between our L2 miss and this lease (its lease ends
          // with its write): look once more before loading again.
          const stored = await this.#l2.read(key, storeKey, stale, refresh, false);
          if (stored === undefined) return await this.#load(key, loader, o, stale, refresh, lease);
          this.#l2.release(storeKey, lease);
          return stored;
        }
        if (!waited) this.#c.s.waitedRemote++;
        waited = true;
        const again = await this.#l2.read(key, storeKey, stale, refresh, false);
        if (again !== undefined) return again;
        await wait.until(this.#c.clock, Math.min(left, RECHECK_MS));
        const filled = await this.#l2.read(key, storeKey, stale, refresh, false);
        if (filled !== undefined) return filled;
      } finally {
        wait.dispose();
      }
    }
    return this.#load(key, loader, o, stale, refresh, undefined);
  }

  async #load(
    key: CacheKey,
    loader: Loader<unknown>,
    o: ResolvedEntryOptions,
    stale: L1Entry | undefined,
    refresh: boolean,
    lease: string | undefined,
  ): Promise<L1Entry> {
    const storeKey = this.#c.prefix + key;
    const tags = o.tags.length > 0 ? scopedTags(scopeOfKey(key), o.tags) : NO_TAGS;
    const versions = await this.#l2.versionsFor(tags);
    const controller = new AbortController();
    const onClose = () => controller.abort(this.#c.closing.signal.reason);
    this.#c.closing.signal.addEventListener('abort', onClose);
    const context: LoadContext<unknown> = { signal: controller.signal, key, stale: stale?.value };
    const started = this.#c.clock.monotonic();
    this.#c.s.loads++;
    if (refresh) this.#c.s.refreshes++;
    let value: unknown;
    try {
      value = await runLoader(loader, context, controller, this.#c.clock, o.hardTimeout, this.#c.name);
    } catch (error) {
      const timedOut = controller.signal.aborted && controller.signal.reason === error;
      this.#c.s.loadErrors++;
      if (timedOut) this.#c.s.loadTimeouts++;
      this.#c.events.loadEvent(refresh, timedOut ? 'timeout' : 'error', started, error);
      if (stale !== undefined) stale.retryAt = this.#c.clock.now() + o.graceBackoff;
      if (lease !== undefined) this.#l2.release(storeKey, lease);
      throw error;
    } finally {
      this.#c.closing.signal.removeEventListener('abort', onClose);
    }
    this.#c.events.loadEvent(refresh, 'ok', started, undefined);
    const entry = this.makeEntry(key, value, o, tags, versions);
    if (entry === undefined) {
      // "Not found", not cached: hand it to this flight's callers only.
      if (lease !== undefined) this.#l2.release(storeKey, lease);
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
    if (this.#c.current(entry)) this.#c.l1.set(entry);
    else this.#c.s.outdated++; // a tag moved while the loader ran: callers get the value, nobody else will
    if (this.#c.l2 !== undefined) background(this.#c, this.#l2.store(key, entry, lease));
    return entry;
  }

  /** A new entry for `value` (or undefined: not found and no negative caching), serialized once. */
  makeEntry(
    key: CacheKey,
    value: unknown,
    o: ResolvedEntryOptions,
    tags: readonly string[],
    versions: readonly number[],
  ): L1Entry | undefined {
    const now = this.#c.clock.now();
    if (value === undefined || value === null) {
      if (o.negativeTtl <= 0) return undefined;
      const until = now + o.negativeTtl;
      const times = { createdAt: now, freshUntil: until, swrUntil: until, graceUntil: until };
      return L1Entry.create(key, value, EMPTY, times, true, tags, versions);
    }
    let bytes: Buffer;
    try {
      const out = this.#c.serializer.serialize(value);
      bytes = typeof out === 'string' ? Buffer.from(out) : out;
    } catch (error) {
      throw serializeError(this.#c.name, error);
    }
    const ttl = o.jitter > 0 ? o.ttl * (1 - o.jitter * this.#c.random()) : o.ttl;
    const freshUntil = now + ttl;
    const times = {
      createdAt: now,
      freshUntil,
      swrUntil: freshUntil + o.staleWhileRevalidate,
      graceUntil: freshUntil + o.grace,
    };
    return L1Entry.create(key, value, bytes, times, false, tags, versions);
  }
}
