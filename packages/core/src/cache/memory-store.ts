// memoryStore: the in-process CacheStore (the embedded mode's L2, and the reference for the store contract).

import { type Clock, systemClock } from '../clock/index.ts';
import { checkClock, checkNumber, withDefaults } from '../shared/options.ts';
import { type StoredEntry, sizeOf } from './entry.ts';
import { SieveCache, SieveNode } from './sieve-cache.ts';
import type { CacheStore, StoreSetOptions, StoreSetResult } from './store.ts';
import { TagVersions } from './tag-versions.ts';

/** Options of `memoryStore`. */
export interface MemoryStoreOptions {
  /** Name shown in stats. @default 'memory' */
  name?: string;
  /** Entries kept at most. @default 100_000 */
  maxEntries?: number;
  /** Bytes of entries kept at most (see `sizeOf`). @default 256 MiB */
  maxBytes?: number;
  /** Tag versions remembered at most; older ones fold into a floor (see `TagVersions`). @default 100_000 */
  maxTags?: number;
  /** Milliseconds an entry is kept past its last servable moment before it is dropped. @default 60_000 */
  gcMargin?: number;
  /** Time source, for garbage collection and lease expiry. @default systemClock() */
  clock?: Clock;
}

const defaultOptions = {
  name: 'memory',
  maxEntries: 100_000,
  maxBytes: 256 * 1024 * 1024,
  maxTags: 100_000,
  gcMargin: 60_000,
};

class StoreNode extends SieveNode {
  entry!: StoredEntry;
  dropAt = 0;
}

interface Lease {
  token: string;
  expiresAt: number;
}

/**
 * The memory store; create it with `memoryStore(options)`.
 *
 * @example
 * const store = new MemoryStore({ maxBytes: 64 << 20 });
 */
export class MemoryStore implements CacheStore {
  readonly name: string;
  readonly #entries: SieveCache<StoreNode>;
  readonly #tags: TagVersions;
  readonly #leases = new Map<string, Lease>();
  readonly #gcMargin: number;
  readonly #clock: Clock;

  constructor(options: MemoryStoreOptions = {}) {
    const o = withDefaults(defaultOptions, options);
    this.name = o.name;
    const maxEntries = checkNumber('memoryStore', 'maxEntries', o.maxEntries, { min: 1, integer: true });
    const maxBytes = checkNumber('memoryStore', 'maxBytes', o.maxBytes, { min: 1, infinite: true });
    this.#entries = new SieveCache({ maxEntries, maxBytes });
    this.#tags = new TagVersions(checkNumber('memoryStore', 'maxTags', o.maxTags, { min: 1, integer: true }));
    this.#gcMargin = checkNumber('memoryStore', 'gcMargin', o.gcMargin);
    this.#clock = checkClock('memoryStore', o.clock ?? systemClock());
  }

  /** Entries and bytes held now. */
  stats(): { entries: number; bytes: number; evictions: number; tags: number } {
    const e = this.#entries;
    return { entries: e.size, bytes: e.bytes, evictions: e.evictions, tags: this.#tags.size };
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const node = this.#entries.get(key);
    if (node === undefined) return undefined;
    if (node.dropAt <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    const { entry } = node;
    return this.#tags.isCurrent(entry.tags, entry.tagVersions) ? entry : undefined;
  }

  async set(key: string, entry: StoredEntry, options: StoreSetOptions = {}): Promise<StoreSetResult> {
    const now = this.#clock.now();
    if (options.lease !== undefined && this.#leaseHolder(key, now) !== options.lease) return 'fenced';
    if (!this.#tags.isCurrent(entry.tags, entry.tagVersions)) return 'outdated';
    this.#leases.delete(key);
    const node = new StoreNode();
    node.key = key;
    node.entry = entry;
    node.size = sizeOf(key, entry.bytes, entry.tags);
    node.dropAt = Math.max(entry.swrUntil, entry.graceUntil, entry.freshUntil) + this.#gcMargin;
    this.#entries.set(node);
    return 'stored';
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#entries.delete(key);
  }

  async invalidateTags(tags: readonly string[]): Promise<number[]> {
    return tags.map((tag) => this.#tags.bump(tag));
  }

  async tagVersions(tags: readonly string[]): Promise<number[]> {
    return tags.map((tag) => this.#tags.get(tag));
  }

  async acquireLease(key: string, token: string, ttl: number): Promise<boolean> {
    const now = this.#clock.now();
    if (this.#leaseHolder(key, now) !== undefined) return false;
    this.#leases.set(key, { token, expiresAt: now + ttl });
    return true;
  }

  async releaseLease(key: string, token: string): Promise<void> {
    if (this.#leases.get(key)?.token === token) this.#leases.delete(key);
  }

  async clear(): Promise<void> {
    this.#entries.clear();
    this.#leases.clear();
    this.#tags.clear();
  }

  #leaseHolder(key: string, now: number): string | undefined {
    const lease = this.#leases.get(key);
    if (lease === undefined) return undefined;
    if (lease.expiresAt > now) return lease.token;
    this.#leases.delete(key);
    return undefined;
  }
}

/**
 * An in-process CacheStore bounded by entries and bytes, with tag versions and load leases. As the L2 of one
 * instance it adds little over L1; its use is the embedded mode, tests, and the contract every store passes.
 *
 * @example
 * const cache = createCache({ name: 'cases', l2: memoryStore({ maxBytes: 128 << 20 }) });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}
