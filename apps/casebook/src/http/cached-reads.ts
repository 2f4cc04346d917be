// Casebook's application cache: how long reads stay fresh, the tags that writes invalidate, and sending a
// cached entry's bytes and strong ETag as they are (a hit serializes, hashes and compresses nothing).

import {
  bytesEtag,
  type Cache,
  type CachedEntry,
  type CacheKey,
  type CacheScope,
  type GetOrSetOptions,
} from '@headroom/core/cache';
import { phase } from '@headroom/fastify';
import type { FastifyReply } from 'fastify';
import type { Settings } from '../settings.ts';
import { sendsKeptBytes } from './compression.ts';
import { staleEtag } from './etag.ts';

/**
 * Freshness of cached reads. Writes invalidate by tag at once (a writer reads its own write), so the TTL
 * only bounds what another writer of the same data outside casebook could leave stale; SWR keeps hot keys
 * answered while one refresh runs; grace answers from cache while PostgreSQL fails, and the soft timeout
 * while it is slow or stalled: past `timeout` (250 ms) a stale answer goes out and the load carries on for the
 * next caller (a load with nothing stale to stand in for it is bounded by the database's own limits, db/pool.ts).
 * The times are casebook.yaml's `cache` (settings.ts), read at use; routes memoize the options per reload.
 */
export function readCaching(cache: Settings['cache']): GetOrSetOptions {
  return {
    ttl: cache.ttl,
    jitter: 0.1,
    staleWhileRevalidate: cache.staleWhileRevalidate,
    grace: cache.grace,
    graceBackoff: 2_000,
    timeout: cache.timeout,
  };
}

/** Every search page of a tenant: any case write may change any of them. */
export const searchTag = 'cases';

/** Everything about one case: detail, timeline and comments first pages. */
export const caseTag = (id: number | string): string => `case:${id}`;

/** The tenant's cache scope; the tenant comes only from the authenticated principal. */
export const tenantScope = (tenantId: number): CacheScope => ({ tenant: String(tenantId) });

/**
 * Invalidates what a write to case `id` changes: its own entries, and the tenant's search pages when the
 * write can move a case in or out of a page (create, update).
 *
 * @example
 * await invalidateCase(cache, tenantId, id, { search: true });
 */
export function invalidateCase(
  cache: Cache | undefined,
  tenantId: number,
  id: number | string,
  options: { search: boolean },
): Promise<void> {
  if (!cache) return Promise.resolve();
  return cache.invalidateTags(
    tenantScope(tenantId),
    options.search ? [caseTag(id), searchTag] : [caseTag(id)],
  );
}

/**
 * Whether the cache served `entry` past its fresh time: within stale-while-revalidate (one refresh runs
 * meanwhile) or within grace (the load failed or timed out). Such an answer says `stale: true`.
 */
export function isStale(entry: CachedEntry<unknown>, now: number): boolean {
  return entry.freshUntil <= now;
}

/**
 * Sends a cached JSON entry: its bytes, and its strong ETag unless `etag` names another. An entry served
 * stale is sent as its value with `stale: true` instead (serialized again: the stale path is rare, the
 * fresh one sends the stored bytes untouched), under the stale variant of its tag (`staleEtag`).
 *
 * @example
 * return sendEntry(reply, await cache.getOrSetEntry(key, load, readCaching(settings.get().cache)), clock.now());
 */
export function sendEntry<R extends FastifyReply>(
  reply: R,
  entry: CachedEntry<unknown>,
  now: number,
  etag = entry.etag,
): R {
  if (!isStale(entry, now)) return sendJson(sendsKeptBytes(reply), entry.bytes, etag);
  return sendJson(reply, JSON.stringify({ ...(entry.value as object), stale: true }), staleEtag(etag));
}

/**
 * Sends JSON already serialized, with its ETag, and returns the reply: an async handler must hand the
 * reply back (not undefined) when onSend hooks such as compression may finish after it returns.
 *
 * @example
 * return sendJson(reply.code(201), body, versionedEtag(row.version, body));
 */
export function sendJson<R extends FastifyReply>(reply: R, body: string | Buffer, etag: string): R {
  reply.header('etag', etag).type('application/json; charset=utf-8').send(body);
  return reply;
}

/**
 * A read through the cache, or straight from `load` when reads are not cached (`READ_CACHE=off`, for
 * baselines): either way an entry with the JSON bytes and their strong ETag.
 *
 * @example
 * const entry = await readEntry(cache, key, () => loadPage(), { ...readCaching(settings.get().cache), tags: [searchTag] });
 */
export function readEntry<T>(
  cache: Cache | undefined,
  key: CacheKey,
  load: () => Promise<T>,
  options: GetOrSetOptions,
): Promise<CachedEntry<T>> {
  // Phase `cache` of the request: its self time, the load's queries being phase `db` of their own.
  return cache
    ? phase('cache', () => cache.getOrSetEntry<T>(key, load, options), { 'headroom.cache': cache.name })
    : loadEntry(load);
}

async function loadEntry<T>(load: () => Promise<T>): Promise<CachedEntry<T>> {
  const value = await load();
  const bytes = Buffer.from(value === undefined ? '' : JSON.stringify(value));
  return {
    value: value as T,
    bytes,
    etag: bytesEtag(bytes),
    createdAt: 0,
    freshUntil: Number.POSITIVE_INFINITY, // read straight from PostgreSQL: never stale
    notFound: value === undefined,
  };
}
