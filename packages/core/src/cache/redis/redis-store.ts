// redisStore: the CacheStore on Redis (standalone or Sentinel). One GET per read, fenced writes and O(1) tag
// invalidation in Lua, leases with SET NX PX. The only cache file besides the bus that touches ioredis.

import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../../clock/index.ts';
import { invalidOption } from '../../errors/index.ts';
import { checkClock, checkNumber, withDefaults } from '../../shared/options.ts';
import type { StoredEntry } from '../entry.ts';
import type { CacheStore, StoreSetOptions, StoreSetResult } from '../store.ts';
import { decodeEntry, encodeEntry } from './envelope.ts';
import { type CacheScripts, defineScripts } from './scripts.ts';

/** Options of `redisStore`. */
export interface RedisStoreOptions {
  /** A connected client with bounded commands: `commandTimeout` is required (see `recommendedClientOptions`). */
  client: Redis;
  /** Prefix of every key this store writes. @default 'hr:cache:' */
  prefix?: string;
  /** Name shown in stats. @default 'redis' */
  name?: string;
  /** Milliseconds Redis keeps an entry past its last servable moment (PX is garbage collection only; freshness is
   * decided from the entry's own timeline, on the cache's clock). @default 60_000 */
  gcMargin?: number;
  /** Time source for the garbage-collection expiry. @default systemClock() */
  clock?: Clock;
}

const defaultOptions = { prefix: 'hr:cache:', name: 'redis', gcMargin: 60_000 };

/**
 * The Redis store; create it with `redisStore(options)`.
 *
 * @example
 * const store = new RedisStore({ client, prefix: 'casebook:cache:' });
 */
export class RedisStore implements CacheStore {
  readonly name: string;
  readonly #client: Redis & CacheScripts;
  readonly #prefix: string;
  readonly #gcMargin: number;
  readonly #clock: Clock;

  constructor(options: RedisStoreOptions) {
    const o = withDefaults(defaultOptions, options ?? ({} as RedisStoreOptions));
    const client = o.client as Redis | undefined;
    if (typeof client?.getBuffer !== 'function')
      throw invalidOption('redisStore', 'client', 'an ioredis client', client);
    const timeout = (client.options as { commandTimeout?: unknown }).commandTimeout;
    if (typeof timeout !== 'number' || !(timeout > 0)) {
      throw invalidOption(
        'redisStore',
        'client.options.commandTimeout',
        'a number of ms > 0 (bounded commands)',
        timeout,
      );
    }
    if (typeof o.prefix !== 'string') throw invalidOption('redisStore', 'prefix', 'a string', o.prefix);
    this.name = o.name;
    this.#client = defineScripts(client);
    this.#prefix = o.prefix;
    this.#gcMargin = checkNumber('redisStore', 'gcMargin', o.gcMargin);
    this.#clock = checkClock('redisStore', o.clock ?? systemClock());
  }

  // Not async: an untagged entry, the hot case, resolves through one `then` with no async frame around it.
  get(key: string): Promise<StoredEntry | undefined> {
    try {
      return this.#client.getBuffer(`${this.#prefix}e:${key}`).then(this.#checkTags);
    } catch (error) {
      return Promise.reject(error); // ioredis throws at once when the stream is not writable
    }
  }

  readonly #checkTags = (raw: Buffer | null): StoredEntry | undefined | Promise<StoredEntry | undefined> => {
    const entry = decodeEntry(raw);
    if (entry === undefined || entry.tags.length === 0) return entry;
    // Tagged entries take a second round trip for their tags' versions; a tag moved since the load began → gone.
    return this.#client.mget(entry.tags.map((tag) => `${this.#prefix}v:${tag}`)).then((current) => {
      for (let i = 0; i < current.length; i++) {
        if (Number(current[i] ?? 0) !== entry.tagVersions[i]) return undefined;
      }
      return entry;
    });
  };

  async set(key: string, entry: StoredEntry, options: StoreSetOptions = {}): Promise<StoreSetResult> {
    const lastServable = Math.max(entry.freshUntil, entry.swrUntil, entry.graceUntil);
    const gc = Math.max(1, Math.ceil(lastServable - this.#clock.now())) + this.#gcMargin;
    const keys = [`${this.#prefix}e:${key}`, `${this.#prefix}l:${key}`];
    for (const tag of entry.tags) keys.push(`${this.#prefix}v:${tag}`);
    return this.#client.headroomCacheSet(
      keys.length,
      ...keys,
      options.lease ?? '',
      encodeEntry(entry),
      gc,
      ...entry.tagVersions,
    );
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.#client.del(keys.map((key) => `${this.#prefix}e:${key}`));
  }

  async invalidateTags(tags: readonly string[]): Promise<number[]> {
    if (tags.length === 0) return [];
    const keys = tags.map((tag) => `${this.#prefix}v:${tag}`);
    const versions = await this.#client.headroomCacheBumpTags(keys.length + 1, `${this.#prefix}seq`, ...keys);
    return versions.map(Number);
  }

  async tagVersions(tags: readonly string[]): Promise<number[]> {
    if (tags.length === 0) return [];
    const values = await this.#client.mget(tags.map((tag) => `${this.#prefix}v:${tag}`));
    return values.map((v) => Number(v ?? 0));
  }

  async acquireLease(key: string, token: string, ttl: number): Promise<boolean> {
    const ok = await this.#client.set(`${this.#prefix}l:${key}`, token, 'PX', Math.ceil(ttl), 'NX');
    return ok === 'OK';
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.#client.headroomCacheRelease(`${this.#prefix}l:${key}`, token);
  }

  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.scan(
        cursor,
        'MATCH',
        `${this.#prefix.replace(/[*?[\]\\]/g, '\\$&')}*`,
        'COUNT',
        500,
      );
      if (keys.length > 0) await this.#client.unlink(keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

/**
 * A CacheStore on Redis. Reads are one GET (two for tagged entries: the tags' versions are checked), writes one
 * script that checks the lease token and the tag versions before it stores. Tag versions use keys named at run time
 * inside the script's KEYS, but entry and tag keys of one write may live in different cluster slots: use standalone
 * Redis or Sentinel, not Cluster.
 *
 * @example
 * const { client } = createRedisClients(process.env.REDIS_URL);
 * const cache = createCache({ name: 'cases', l2: redisStore({ client, prefix: 'casebook:cache:' }) });
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
