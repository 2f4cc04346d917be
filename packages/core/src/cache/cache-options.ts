// Options of createCache and of each getOrSet, with their defaults and checks.

import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import type { Policy } from '../policy/policy.ts';
import { checkClock, checkFunction, checkNumber, withDefaults } from '../shared/options.ts';
import { defaultL2Breaker } from './default-breaker.ts';
import { jsonSerializer, type Serializer } from './entry.ts';
import type { CacheBus, CacheStore } from './store.ts';

/** How long entries live and how they behave when old; set per cache, overridable per call. */
export interface EntryOptions {
  /** Milliseconds an entry is fresh. @default 60_000 */
  ttl?: number;
  /** Share (0–1) by which each entry's ttl is shortened at random, so entries made together expire apart. @default 0 */
  jitter?: number;
  /** Milliseconds after `ttl` during which the stale value is served at once while ONE background refresh runs.
   * @default 0 (off) */
  staleWhileRevalidate?: number;
  /** Milliseconds after `ttl` during which the stale value is served when the loader fails or times out
   * (stale-if-error). @default 0 (off) */
  grace?: number;
  /** Milliseconds after a failed load during which the loader is not called again for that key (the stale value is
   * served instead, within `grace`). @default 5_000 */
  graceBackoff?: number;
  /** Milliseconds a "not found" (loader answered undefined or null) is cached. @default 0 (not cached) */
  negativeTtl?: number;
  /** Soft timeout: milliseconds after which a caller that has a stale value gets it, while the load goes on in the
   * background. @default Infinity (off) */
  timeout?: number;
  /** Hard timeout: milliseconds after which the loader's signal aborts and the load fails with
   * HR_CACHE_LOAD_TIMEOUT (then `grace` applies). @default Infinity (off) */
  hardTimeout?: number;
}

/** Options of one `getOrSet` / `set` call. */
export interface GetOrSetOptions extends EntryOptions {
  /** Tags of the entry, in the key's scope (`case:42`); `invalidateTags(scope, tags)` drops every entry carrying one. */
  tags?: readonly string[];
}

/** Options of `createCache`. */
export interface CacheOptions extends EntryOptions {
  /** Name in stats, events and metrics; also namespaces keys in a shared L2. Letters, digits, `._-`. @default 'cache' */
  name?: string;
  /** Entries L1 holds at most. @default 10_000 */
  maxEntries?: number;
  /** Bytes L1 holds at most (serialized values, keys, tags and a fixed overhead per entry). @default 64 MiB */
  maxBytes?: number;
  /** Shared second tier (`memoryStore()`, `redisStore(...)`). @default none */
  l2?: CacheStore;
  /** Invalidation bus between instances sharing `l2`; also wakes instances waiting on another's load. @default none */
  bus?: CacheBus;
  /** Guards every L2 and bus call; while it refuses, the cache runs on L1 and the loader. @default a circuit breaker
   * opening at 50% failures over 20 calls (minimum 5), probing after 1 s */
  l2Breaker?: Policy;
  /** Milliseconds a load lease (distributed singleflight) lasts, and the longest an instance waits for another's
   * load before loading itself. @default 10_000 */
  leaseTtl?: number;
  /** Tag versions L1 remembers (older ones fold into a floor, see TagVersions). @default 100_000 */
  maxTags?: number;
  /** @default jsonSerializer */
  serializer?: Serializer;
  /** This instance's id on the bus (its own messages come back and are skipped). @default a random UUID */
  instanceId?: string;
  /** @default systemClock() */
  clock?: Clock;
  /** Random numbers in [0, 1), for jitter. @default Math.random */
  random?: () => number;
}

/** Entry options with every default applied. */
export type ResolvedEntryOptions = Required<EntryOptions> & { tags: readonly string[] };

export const defaultEntryOptions: ResolvedEntryOptions = Object.freeze({
  ttl: 60_000,
  jitter: 0,
  staleWhileRevalidate: 0,
  grace: 0,
  graceBackoff: 5_000,
  negativeTtl: 0,
  timeout: Number.POSITIVE_INFINITY,
  hardTimeout: Number.POSITIVE_INFINITY,
  tags: Object.freeze([]) as readonly string[],
});

export const defaultCacheOptions = {
  name: 'cache',
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  leaseTtl: 10_000,
  maxTags: 100_000,
};

const nonNegative = { min: 0 };
const unlimited = { infinite: true };

/**
 * `base` overlaid with the entry options in `options`, each checked; throws HR_INVALID_OPTION naming the option.
 *
 * @example
 * const o = resolveEntryOptions('cache', defaultEntryOptions, { ttl: 5_000, tags: ['case:1'] });
 */
export function resolveEntryOptions(
  who: string,
  base: ResolvedEntryOptions,
  options: GetOrSetOptions | undefined,
): ResolvedEntryOptions {
  if (options === undefined) return base;
  const o = { ...base };
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    switch (name) {
      case 'ttl':
        o.ttl = checkNumber(who, name, value, { min: 0, above: true, ...unlimited });
        break;
      case 'jitter':
        o.jitter = checkNumber(who, name, value, { min: 0, max: 1 });
        break;
      case 'staleWhileRevalidate':
      case 'grace':
      case 'graceBackoff':
      case 'negativeTtl':
        o[name] = checkNumber(who, name, value, nonNegative);
        break;
      case 'timeout':
      case 'hardTimeout':
        o[name] = checkNumber(who, name, value, { min: 0, above: true, ...unlimited });
        break;
      case 'tags':
        if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length === 0)) {
          throw invalidOption(who, 'tags', 'an array of non-empty strings', value);
        }
        o.tags = value;
        break;
    }
  }
  return o;
}

/** The options of `createCache` with every default applied, each checked. */
export interface ResolvedCacheOptions {
  name: string;
  maxEntries: number;
  maxBytes: number;
  maxTags: number;
  leaseTtl: number;
  clock: Clock;
  random: () => number;
  serializer: Serializer;
  /** The entry options every call starts from. */
  defaults: ResolvedEntryOptions;
  instanceId: string;
  l2: CacheStore | undefined;
  bus: CacheBus | undefined;
  l2Breaker: Policy;
}

const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * `options` of createCache with the defaults applied, each checked in turn; throws HR_INVALID_OPTION naming the
 * first bad one.
 *
 * @example
 * const o = resolveCacheOptions({ name: 'cases', ttl: 30_000 });
 */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  const o = withDefaults(defaultCacheOptions, options);
  if (typeof o.name !== 'string' || !NAME.test(o.name)) {
    throw invalidOption('createCache', 'name', 'letters, digits, ".", "_" or "-"', o.name);
  }
  const name = o.name;
  const maxEntries = checkNumber('createCache', 'maxEntries', o.maxEntries, { min: 1, integer: true });
  const maxBytes = checkNumber('createCache', 'maxBytes', o.maxBytes, { min: 1, infinite: true });
  const maxTags = checkNumber('createCache', 'maxTags', o.maxTags, { min: 1, integer: true });
  const leaseTtl = checkNumber('createCache', 'leaseTtl', o.leaseTtl, { min: 0, above: true });
  const clock = checkClock('createCache', o.clock ?? systemClock());
  const random = checkFunction('createCache', 'random', o.random ?? Math.random);
  const serializer = o.serializer ?? jsonSerializer;
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw invalidOption(
      'createCache',
      'serializer',
      'an object with serialize and deserialize',
      o.serializer,
    );
  }
  const defaults = resolveEntryOptions('createCache', defaultEntryOptions, options);
  const instanceId = o.instanceId ?? randomUUID();
  const l2 = o.l2;
  if (l2 !== undefined && typeof l2.get !== 'function') {
    throw invalidOption('createCache', 'l2', 'a CacheStore', o.l2);
  }
  const l2Breaker = o.l2Breaker ?? defaultL2Breaker(name, clock);
  if (typeof l2Breaker?.execute !== 'function') {
    throw invalidOption('createCache', 'l2Breaker', 'a Policy', o.l2Breaker);
  }
  return {
    name,
    maxEntries,
    maxBytes,
    maxTags,
    leaseTtl,
    clock,
    random,
    serializer,
    defaults,
    instanceId,
    l2,
    bus: o.bus,
    l2Breaker,
  };
}
