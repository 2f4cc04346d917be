// Keys that name whose bucket it is: a key can only be built from a scope, and distinct (scope, name) pairs
// always give distinct keys, so two tenants never share a bucket whatever characters their ids contain.

import { invalidOption } from '../errors/index.ts';

declare const keyBrand: unique symbol;

/** A bucket key built by `rateLimitKey`; a plain string is not one. */
export type RateLimitKey = string & { readonly [keyBrand]: true };

/**
 * Whose requests share a bucket: a tenant, an account, a client (an IP address, say), or a tenant narrowed to
 * one of its accounts or clients.
 */
export type RateLimitScope =
  | { tenant: string; account?: string; client?: string }
  | { account: string; client?: string }
  | { client: string };

// Fixed order and one-letter tags; values are percent-encoded, so '/' and '=' never occur inside a part and
// splitting the key on them recovers exactly one (scope, name).
const parts = [
  ['tenant', 't'],
  ['account', 'a'],
  ['client', 'c'],
] as const;
const known = new Set<string>(parts.map(([field]) => field));

/**
 * Builds the key of one bucket: `scope` says whose requests share it, `name` what they do (a route or an
 * action). Values are percent-encoded, which also keeps `{}` (Redis Cluster hash tags) out of keys.
 *
 * @example
 * const key = rateLimitKey({ tenant: 'acme' }, 'search');      // 't=acme/n=search'
 * const login = rateLimitKey({ client: '1.2.3.4' }, 'login');
 * const perUser = rateLimitKey({ account: 'a@b.test' }, 'login');
 */
export function rateLimitKey(scope: RateLimitScope, name: string): RateLimitKey {
  if (typeof scope !== 'object' || scope === null) {
    throw invalidOption('rateLimitKey', 'scope', 'an object with tenant, account or client', scope);
  }
  let key = '';
  for (const field of Object.keys(scope)) {
    if (!known.has(field))
      throw invalidOption('rateLimitKey', `scope.${field}`, 'absent (unknown field)', field);
  }
  for (const [field, tag] of parts) {
    const value = (scope as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') {
      throw invalidOption('rateLimitKey', `scope.${field}`, 'a non-empty string', value);
    }
    key += `${tag}=${encodePart(value)}/`;
  }
  if (key === '')
    throw invalidOption('rateLimitKey', 'scope', 'an object with tenant, account or client', scope);
  if (typeof name !== 'string' || name === '')
    throw invalidOption('rateLimitKey', 'name', 'a non-empty string', name);
  return `${key}n=${encodePart(name)}` as RateLimitKey;
}

// encodeURIComponent throws URIError on an unpaired surrogate (a login e-mail is read before it is
// validated); those code units are written as `%uXXXX`, which encodeURIComponent never produces, so the
// encoding stays one-to-one.
function encodePart(value: string): string {
  if (value.isWellFormed()) return encodeURIComponent(value);
  let out = '';
  for (const char of value) {
    const unit = char.charCodeAt(0);
    out +=
      char.length === 1 && unit >= 0xd800 && unit <= 0xdfff
        ? `%u${unit.toString(16).toUpperCase()}`
        : encodeURIComponent(char);
  }
  return out;
}

/**
 * True when `value` looks like a key `rateLimitKey` built (a scope tag first, a name last); a cheap guard the
 * limiter uses on every check to refuse raw strings from untyped callers.
 *
 * @example
 * isRateLimitKey('t=acme/n=search'); // true
 */
export function isRateLimitKey(value: unknown): value is RateLimitKey {
  if (typeof value !== 'string' || value.charCodeAt(1) !== 61 /* = */) return false;
  const tag = value.charCodeAt(0);
  return (tag === 116 /* t */ || tag === 97 /* a */ || tag === 99) /* c */ && value.includes('/n=');
}
