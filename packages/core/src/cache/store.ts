// The one interface every L2 store implements (memory, Redis), and the bus that carries invalidations between
// instances. The cache core talks only to these.

import type { Disposable } from '../shared/events.ts';
import type { StoredEntry } from './entry.ts';

/** How a `set` ended: stored; refused because the writer's lease was no longer current; or refused because a tag
 * of the entry was invalidated after its load began (the entry would be stale the moment it landed). */
export type StoreSetResult = 'stored' | 'fenced' | 'outdated';

/** Options of `CacheStore.set`. */
export interface StoreSetOptions {
  /** Store only while this lease token still holds the key's lease (fencing), then release it. Without it the
   * write is unconditional and drops any lease on the key, so a load in flight cannot overwrite it. */
  lease?: string;
}

/**
 * An L2 store. Stores keep bytes and metadata and never judge freshness (the cache does, from the entry's
 * timeline), but they do own tag versions: `get` answers `undefined` for an entry any of whose tags moved past the
 * version recorded in it, and `set` refuses such an entry. Every implementation passes `cacheStoreContract`.
 *
 * @example
 * const store: CacheStore = memoryStore({ maxBytes: 256 << 20 });
 * await store.set('cases|t:acme:case:1', entry);
 */
export interface CacheStore {
  /** For stats and errors. */
  readonly name: string;
  /** The entry, or undefined when absent, garbage-collected or invalidated by a tag. */
  get(key: string): Promise<StoredEntry | undefined>;
  set(key: string, entry: StoredEntry, options?: StoreSetOptions): Promise<StoreSetResult>;
  delete(keys: readonly string[]): Promise<void>;
  /** Moves each tag to a new version (O(1) per tag, whatever the number of entries) and returns the versions. */
  invalidateTags(tags: readonly string[]): Promise<number[]>;
  /** Current version of each tag (0 for a tag never invalidated). */
  tagVersions(tags: readonly string[]): Promise<number[]>;
  /** Takes the key's load lease for `ttl` ms when nobody holds it; true when this token now holds it. */
  acquireLease(key: string, token: string, ttl: number): Promise<boolean>;
  /** Gives the lease up, if this token still holds it. */
  releaseLease(key: string, token: string): Promise<void>;
  /** Removes every entry, lease and tag version of this store (tests, admin). */
  clear(): Promise<void>;
}

/** What instances tell each other. `origin` is the sender's instance id (so it can skip its own echo), `sentAt`
 * its wall clock at publish time (so receivers can measure the bus lag). */
export type BusMessage =
  | { type: 'set' | 'delete' | 'released'; origin: string; sentAt: number; cache: string; keys: string[] }
  | { type: 'tags'; origin: string; sentAt: number; tags: string[]; versions: number[] }
  | { type: 'clear'; origin: string; sentAt: number; cache: string };

/**
 * Carries invalidations and fill notices between the instances sharing an L2. `healthy` is false while the
 * subscription is down (messages may be missed); `onReconnect` fires once it is back, so instances can drop what
 * they may have missed.
 *
 * @example
 * const sub = bus.subscribe((message) => console.log(message.type, 'from', message.origin));
 */
export interface CacheBus {
  readonly healthy: boolean;
  publish(message: BusMessage): Promise<void>;
  subscribe(listener: (message: BusMessage) => void): Disposable;
  onReconnect(listener: () => void): Disposable;
  close(): Promise<void>;
}
