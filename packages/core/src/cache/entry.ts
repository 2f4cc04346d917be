// What a cache entry is: the value serialized once with its ETag and timings, as stores keep it and as L1 holds it.

import { hash } from 'node:crypto';
import { SieveNode } from './sieve-cache.ts';

/**
 * An entry as stores keep it: the serialized bytes, their strong ETag and the entry's timeline (wall-clock ms from
 * the cache's clock). Expiry is logical: stores may keep an entry longer (garbage collection) but never decide
 * freshness themselves.
 */
export interface StoredEntry {
  /** The value serialized by the cache's serializer; empty for a cached "not found". */
  readonly bytes: Buffer;
  /** Strong ETag of `bytes`, quoted, computed once when the entry was made. */
  readonly etag: string;
  readonly createdAt: number;
  /** Served as fresh until then. */
  readonly freshUntil: number;
  /** Served stale while one background refresh runs, until then. */
  readonly swrUntil: number;
  /** Served stale when the loader fails or times out, until then. */
  readonly graceUntil: number;
  /** The loader found nothing (negative caching). */
  readonly notFound: boolean;
  /** Scoped tags (see `scopedTags`). */
  readonly tags: readonly string[];
  /** Version of each tag when the load began; the entry is invalid once any tag moved past it. */
  readonly tagVersions: readonly number[];
}

/** An entry as `getEntry` / `getOrSetEntry` hand it out: the value and the bytes and ETag to send as they are. */
export interface CachedEntry<T> {
  readonly value: T;
  readonly bytes: Buffer;
  readonly etag: string;
  readonly createdAt: number;
  readonly freshUntil: number;
  readonly notFound: boolean;
}

/** Turns values into bytes and back. The bytes are what L2 stores and what an HTTP layer may send. */
export interface Serializer {
  serialize(value: unknown): Buffer | string;
  deserialize(bytes: Buffer): unknown;
}

/**
 * JSON, the default serializer: the bytes are the JSON text in UTF-8.
 *
 * @example
 * createCache({ name: 'cases', serializer: jsonSerializer });
 */
export const jsonSerializer: Serializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (bytes) => JSON.parse(bytes.toString('utf8')),
};

/**
 * The strong ETag of some bytes: quoted, 22 base64url characters of their SHA-1 (the same form @headroom/fastify
 * computes, so a cached entry and a freshly rendered body agree).
 *
 * @example
 * bytesEtag(Buffer.from('{"id":1}')); // '"…22 chars…"'
 */
export function bytesEtag(bytes: Buffer): string {
  return `"${hash('sha1', bytes, 'base64url').slice(0, 22)}"`;
}

export const EMPTY = Buffer.alloc(0);
const EMPTY_ETAG = bytesEtag(EMPTY);
/** The tags of an entry that has none (one frozen array, shared). */
export const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_VERSIONS: readonly number[] = Object.freeze([]);

// Per-entry bookkeeping an L1 entry carries besides its bytes (object headers, key, timings).
const ENTRY_OVERHEAD = 160;

/** Timeline of a new entry, in wall-clock ms. */
export interface EntryTimes {
  createdAt: number;
  freshUntil: number;
  swrUntil: number;
  graceUntil: number;
}

/**
 * An L1 entry: the stored form plus the deserialized value and an already-settled promise of it, so a hit allocates
 * nothing. `retryAt` holds a failed refresh's backoff.
 *
 * @example
 * const entry = L1Entry.fromStored(key, stored, serializer);
 */
export class L1Entry<T = unknown> extends SieveNode implements StoredEntry, CachedEntry<T> {
  value!: T;
  bytes: Buffer = EMPTY;
  etag = EMPTY_ETAG;
  createdAt = 0;
  freshUntil = 0;
  swrUntil = 0;
  graceUntil = 0;
  notFound = false;
  tags: readonly string[] = NO_TAGS;
  tagVersions: readonly number[] = NO_VERSIONS;
  retryAt = 0;
  #settled: Promise<T> | undefined;

  /** The value as a settled promise, made once per entry. */
  get promise(): Promise<T> {
    this.#settled ??= Promise.resolve(this.value);
    return this.#settled;
  }

  /** The last moment this entry may be served at all. */
  get staleUntil(): number {
    return this.swrUntil > this.graceUntil ? this.swrUntil : this.graceUntil;
  }

  static create<T>(
    key: string,
    value: T,
    bytes: Buffer,
    times: EntryTimes,
    notFound: boolean,
    tags: readonly string[],
    tagVersions: readonly number[],
  ): L1Entry<T> {
    const entry = new L1Entry<T>();
    entry.key = key;
    entry.value = value;
    entry.bytes = bytes;
    entry.etag = bytes.length === 0 ? EMPTY_ETAG : bytesEtag(bytes);
    entry.createdAt = times.createdAt;
    entry.freshUntil = times.freshUntil;
    entry.swrUntil = times.swrUntil;
    entry.graceUntil = times.graceUntil;
    entry.notFound = notFound;
    if (tags.length > 0) {
      entry.tags = tags;
      entry.tagVersions = tagVersions;
    }
    entry.size = sizeOf(key, bytes, tags);
    return entry;
  }

  static fromStored<T>(key: string, stored: StoredEntry, value: T): L1Entry<T> {
    const entry = new L1Entry<T>();
    entry.key = key;
    entry.value = value;
    entry.bytes = stored.bytes;
    entry.etag = stored.etag;
    entry.createdAt = stored.createdAt;
    entry.freshUntil = stored.freshUntil;
    entry.swrUntil = stored.swrUntil;
    entry.graceUntil = stored.graceUntil;
    entry.notFound = stored.notFound;
    if (stored.tags.length > 0) {
      entry.tags = stored.tags;
      entry.tagVersions = stored.tagVersions;
    }
    entry.size = sizeOf(key, stored.bytes, stored.tags);
    return entry;
  }
}

/**
 * Bytes an entry is charged in a bounded store: its serialized value, key, tags and a fixed overhead. The
 * deserialized object L1 also keeps is not measured (its size is unknowable cheaply); budget `maxBytes` for that.
 *
 * @example
 * node.size = sizeOf(key, bytes, tags);
 */
export function sizeOf(key: string, bytes: Buffer, tags: readonly string[]): number {
  let size = ENTRY_OVERHEAD + key.length * 2 + bytes.length;
  for (const tag of tags) size += tag.length * 2 + 8;
  return size;
}
