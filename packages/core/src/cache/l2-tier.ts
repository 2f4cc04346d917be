// A cache's reads and writes of its shared tier: servable lookups adopted into L1, load leases, lease-fenced
// writes announced on the bus, and tag versions. Every call fails open (see l2Call).

import { background, type CacheCore, FAILED, type Failed, l2Call, publish } from './cache-core.ts';
import type { CacheKey } from './cache-key.ts';
import { L1Entry, type StoredEntry } from './entry.ts';
import { serializeError } from './errors.ts';

/** The L2 side of one cache. */
export class L2Tier {
  readonly #c: CacheCore;
  #leaseSeq = 0;

  constructor(core: CacheCore) {
    this.#c = core;
  }

  /**
   * A servable L2 entry (fresh, or stale within stale-while-revalidate for a plain read, and never older than
   * `stale`), adopted into L1. `count` is false for the re-reads of a lease round: the lookup was counted once.
   */
  async read(
    key: CacheKey,
    storeKey: string,
    stale: L1Entry | undefined,
    refresh: boolean,
    count = true,
  ): Promise<L1Entry | undefined> {
    const stored = await l2Call(this.#c, 'get', (l2) => l2.get(storeKey));
    if (stored === FAILED) return undefined;
    const now = this.#c.clock.now();
    const servable =
      stored !== undefined &&
      (stored.freshUntil > now || (!refresh && now < stored.swrUntil)) &&
      (stale === undefined || stored.createdAt >= stale.createdAt);
    if (count) this.#c.events.count('l2', !servable ? 'miss' : stored.freshUntil > now ? 'hit' : 'stale');
    return servable ? this.adopt(key, stored) : undefined;
  }

  /** A stored entry made an L1 entry (and put in L1); undefined when its bytes cannot be read. */
  adopt(key: CacheKey, stored: StoredEntry): L1Entry | undefined {
    let value: unknown;
    try {
      value = stored.notFound ? undefined : this.#c.serializer.deserialize(stored.bytes);
    } catch (error) {
      this.#c.events.fail('deserialize', serializeError(this.#c.name, error), false);
      return undefined;
    }
    if (stored.tags.length > 0) this.#c.tags.observe(stored.tags, stored.tagVersions);
    const entry = L1Entry.fromStored(key, stored, value);
    this.#c.l1.set(entry);
    return entry;
  }

  /** Tries for the load lease of `storeKey`: its token when won, undefined when another instance holds it. */
  async lease(storeKey: string): Promise<string | undefined | Failed> {
    const token = `${this.#c.instanceId}:${++this.#leaseSeq}`;
    const leased = await l2Call(this.#c, 'acquireLease', (l2) =>
      l2.acquireLease(storeKey, token, this.#c.leaseTtl),
    );
    if (leased === FAILED) return FAILED;
    return leased ? token : undefined;
  }

  /** Writes `entry` to L2 (under `lease` when this instance holds one) and tells the other instances. */
  async store(key: CacheKey, entry: L1Entry, lease: string | undefined): Promise<void> {
    const storeKey = this.#c.prefix + key;
    const result = await l2Call(this.#c, 'set', (l2) =>
      l2.set(storeKey, entry, lease === undefined ? {} : { lease }),
    );
    if (result === FAILED) {
      // The write may have landed or not (a timeout can come after Redis did it): give the lease back, which
      // also wakes the instances waiting on it, so they look for themselves instead of waiting out the lease.
      if (lease !== undefined) await this.#release(storeKey, lease);
      return;
    }
    if (result === 'stored') {
      await publish(this.#c, { type: 'set', cache: this.#c.name, keys: [storeKey] });
      return;
    }
    if (result === 'fenced') this.#c.s.fenced++;
    else {
      this.#c.s.outdated++;
      if (this.#c.l1.peek(key) === entry) this.#c.l1.delete(key);
    }
    if (lease !== undefined) await this.#release(storeKey, lease);
  }

  /** Current versions of `tags`, recorded in an entry before its load begins: from L2 when there is one. */
  async versionsFor(tags: readonly string[]): Promise<readonly number[]> {
    if (tags.length === 0) return [];
    if (this.#c.l2 !== undefined) {
      const versions = await l2Call(this.#c, 'tagVersions', (l2) => l2.tagVersions(tags));
      if (versions !== FAILED) {
        this.#c.tags.observe(tags, versions);
        return versions;
      }
    }
    return tags.map((tag) => this.#c.tags.get(tag));
  }

  /** Gives up `lease` in the background, waking the instances waiting on it. */
  release(storeKey: string, lease: string): void {
    background(this.#c, this.#release(storeKey, lease));
  }

  async #release(storeKey: string, lease: string): Promise<void> {
    const released = await l2Call(this.#c, 'releaseLease', (l2) => l2.releaseLease(storeKey, lease));
    if (released !== FAILED)
      await publish(this.#c, { type: 'released', cache: this.#c.name, keys: [storeKey] });
  }
}
