// HTTP caching for a route: Cache-Control and Vary from the route's options, a strong ETag from the bytes
// (unless the route already set one, e.g. from a cache entry that stored it), and 304 for If-None-Match.

import { hash } from 'node:crypto';
import { commonErrors } from '@headroom/core/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noneMatch } from './entity-tags.ts';

/** Per-route HTTP caching, set as `config: { httpCache: {...} }` on a route. */
export interface HttpCacheOptions {
  /** `private` for anything that depends on who asks (a tenant's data); `public` only for the same bytes to all. */
  scope: 'private' | 'public';
  /** Seconds a cache may serve without revalidating. @default 0 (revalidate every time, with the ETag) */
  maxAge?: number;
  /** Seconds for shared caches (public only). */
  sMaxAge?: number;
  staleWhileRevalidate?: number;
  staleIfError?: number;
  /** Request headers the answer depends on. `authorization` is always added to private answers. */
  vary?: string[];
  /** True when the answer depends on the tenant: then `public` is refused, at start-up. */
  tenantScoped?: boolean;
}

/**
 * The Cache-Control value of a route; a tenant-scoped answer is never `public`.
 *
 * @example
 * cacheControl({ scope: 'private', maxAge: 0 }) // 'private, no-cache'
 */
export function cacheControl(options: HttpCacheOptions): string {
  if (options.scope === 'public' && options.tenantScoped) {
    throw commonErrors.create('HR_INVALID_OPTION', 'httpCache: a tenant-scoped answer cannot be public', {
      context: { option: 'httpCache.scope' },
    });
  }
  const parts: string[] = [options.scope];
  const maxAge = options.maxAge ?? 0;
  parts.push(maxAge === 0 ? 'no-cache' : `max-age=${maxAge}`);
  if (options.scope === 'public' && options.sMaxAge !== undefined) parts.push(`s-maxage=${options.sMaxAge}`);
  if (options.staleWhileRevalidate !== undefined)
    parts.push(`stale-while-revalidate=${options.staleWhileRevalidate}`);
  if (options.staleIfError !== undefined) parts.push(`stale-if-error=${options.staleIfError}`);
  return parts.join(', ');
}

/** A strong ETag of exact bytes (SHA-1, base64url, 22 characters). */
export function bytesEtag(payload: string | Buffer): string {
  return `"${hash('sha1', payload, 'base64url').slice(0, 22)}"`;
}

/** An onSend hook, callback style. */
export type OnSendHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: Error | null, payload?: unknown) => void,
) => void;

/**
 * The onSend hook of one route's `config.httpCache`: headers on 2xx GET/HEAD answers, and the 304. Its header
 * values are built here, once per route; bad options throw here, at start-up.
 *
 * @example
 * route.onSend = [httpCacheHook({ scope: 'private', tenantScoped: true }), ...others];
 */
export function httpCacheHook(options: HttpCacheOptions): OnSendHook {
  const control = cacheControl(options);
  const names = new Set((options.vary ?? []).map((h) => h.toLowerCase()));
  if (options.scope === 'private') names.add('authorization');
  const vary = names.size > 0 ? [...names].join(', ') : undefined;
  return function httpCacheOnSend(request, reply, payload, done) {
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || reply.statusCode !== 200) {
      done(null, payload);
      return;
    }
    reply.header('cache-control', control);
    // The plugin's default `Vary: authorization` goes when the route says the answer is the same for all.
    if (vary !== undefined) reply.header('vary', vary);
    else reply.removeHeader('vary');
    let etag = reply.getHeader('etag') as string | undefined;
    if (etag === undefined && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      etag = bytesEtag(payload);
      reply.header('etag', etag);
    }
    if (noneMatch(request.headers['if-none-match'], etag)) {
      // 304: the validators and caching headers of a 200, no body (RFC 9110 §15.4.5).
      reply.code(304);
      reply.removeHeader('content-type');
      reply.removeHeader('content-length');
      reply.removeHeader('content-encoding');
      done(null, '');
      return;
    }
    done(null, payload);
  };
}
