// Cache keys that cannot be built without a tenant (or an explicit global scope), and tags scoped the same way.

import { invalidKeyError } from './errors.ts';

declare const keyBrand: unique symbol;

/** The scope of data shared by every tenant (reference tables, feature lists). Use it on purpose, never by default. */
export const GLOBAL: unique symbol = Symbol.for('headroom.cache.global');

/** Whose data a key or tag belongs to: one tenant, or everyone (`GLOBAL`). */
export type CacheScope = { readonly tenant: string } | typeof GLOBAL;

/**
 * A cache key: a string that only `cacheKey` makes, so every key carries its scope. Cache methods accept no other.
 *
 * @example
 * const key: CacheKey = cacheKey({ tenant: 'acme' }, 'case', 42);
 */
export type CacheKey = string & { readonly [keyBrand]: 'CacheKey' };

/** A key part: text or a finite number. */
export type KeyPart = string | number;

// `%` first, so an escaped separator cannot be confused with the input "%3A".
function escapePart(part: string): string {
  if (!part.includes('%') && !part.includes(':')) return part;
  return part.replaceAll('%', '%25').replaceAll(':', '%3A');
}

function scopePrefix(scope: CacheScope): string {
  if (scope === GLOBAL) return 'g';
  const tenant = (scope as { tenant?: unknown } | null)?.tenant;
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw invalidKeyError('scope must be { tenant: non-empty string } or GLOBAL', scope);
  }
  return `t:${escapePart(tenant)}`;
}

function partText(part: KeyPart): string {
  if (typeof part === 'string') return escapePart(part);
  if (typeof part === 'number' && Number.isFinite(part)) return String(part);
  throw invalidKeyError('each part must be a string or a finite number', part);
}

/**
 * Builds a key from a scope and parts. Separators inside the tenant and the parts are escaped, so tenant `a:b` with
 * part `c` can never equal tenant `a` with part `b:c`, and no key of one tenant can name another tenant's entry.
 *
 * @example
 * cacheKey({ tenant: principal.tenantId }, 'case', id, 'comments'); // 't:acme:case:42:comments'
 * cacheKey(GLOBAL, 'countries');                                     // 'g:countries'
 */
export function cacheKey(scope: CacheScope, ...parts: KeyPart[]): CacheKey {
  if (parts.length === 0) throw invalidKeyError('a key needs at least one part after the scope', parts);
  let key = scopePrefix(scope);
  for (const part of parts) key += `:${partText(part)}`;
  return key as CacheKey;
}

/**
 * The scope part of a key (`'g'` or `'t:<tenant>'`), under which its tags live.
 *
 * @example
 * scopeOfKey(cacheKey({ tenant: 'acme' }, 'case', 1)); // 't:acme'
 */
export function scopeOfKey(key: CacheKey): string {
  return key.charCodeAt(0) === 103 /* g */ ? 'g' : key.slice(0, key.indexOf(':', 2));
}

/**
 * Tags as stored: each prefixed with its scope and escaped, so tenant A's `case:1` and tenant B's are different tags.
 *
 * @example
 * scopedTags({ tenant: 'acme' }, ['case:1']); // ['t:acme:case%3A1']
 */
export function scopedTags(scope: CacheScope | string, tags: readonly string[]): string[] {
  const prefix = typeof scope === 'string' ? scope : scopePrefix(scope);
  return tags.map((tag) => {
    if (typeof tag !== 'string' || tag.length === 0)
      throw invalidKeyError('a tag must be a non-empty string', tag);
    return `${prefix}:${escapePart(tag)}`;
  });
}
