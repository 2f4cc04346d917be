// RateLimit-Policy, RateLimit and Retry-After values per draft-ietf-httpapi-ratelimit-headers-10: each field
// is an RFC 8941 List of Items whose value is the policy name as an sf-string, with Integer parameters.

import { invalidOption } from '../errors/index.ts';
import type { RateLimitDecision, RateLimitPolicy } from './rate-limit-policy.ts';

/** Options of the header functions. */
export interface RateLimitHeaderOptions {
  /**
   * The partition key (`pk`), serialized as an sf-binary (`:base64:`). Send an opaque value (a hash), not an
   * identity the client should not learn. Omitted by default.
   */
  partitionKey?: string | Uint8Array;
}

/**
 * The `RateLimit-Policy` field value: `"name";q=<limit>;w=<window in seconds>` per policy, comma-separated.
 * The draft allows whole seconds only, so a window that is not a whole number of seconds is rounded up: the
 * advertised rate is then a little lower than the enforced one, never higher.
 *
 * @example
 * rateLimitPolicyHeader({ name: 'pro', limit: 600, window: 60_000 }); // '"pro";q=600;w=60'
 */
export function rateLimitPolicyHeader(
  policies: RateLimitPolicy | readonly RateLimitPolicy[],
  options: RateLimitHeaderOptions = {},
): string {
  const list = isList(policies) ? policies : [policies];
  const pk = partitionKey(options.partitionKey);
  return list
    .map(
      (p) => `${sfString(p.name)};q=${sfInteger(p.limit)};w=${Math.max(1, Math.ceil(p.window / 1000))}${pk}`,
    )
    .join(', ');
}

/**
 * The `RateLimit` field value: `"name";r=<remaining>;t=<seconds>` per decision. `t` is when more quota is
 * available: for a limited decision the same whole seconds as Retry-After (the draft asks that Retry-After
 * not point earlier than `t`), for an allowed one the time until the bucket is full again, rounded up.
 *
 * @example
 * rateLimitHeader(decision); // '"pro";r=598;t=1'
 */
export function rateLimitHeader(
  decisions: RateLimitDecision | readonly RateLimitDecision[],
  options?: RateLimitHeaderOptions,
): string {
  const pk = partitionKey(options?.partitionKey);
  // One decision is every request's case: no list, no join.
  if (!isList(decisions)) return rateLimitItem(decisions, pk);
  if (decisions.length === 1) return rateLimitItem(decisions[0]!, pk);
  return decisions.map((d) => rateLimitItem(d, pk)).join(', ');
}

function rateLimitItem(d: RateLimitDecision, pk: string): string {
  const t = d.allowed ? Math.ceil(d.resetMs / 1000) : retryAfterSeconds(d);
  return `${sfString(d.policy.name)};r=${sfInteger(d.remaining)};t=${t}${pk}`;
}

/**
 * Whole seconds for `Retry-After`: 0 when allowed, else the retry delay rounded up and at least 1, so a
 * client that waits that long finds the request allowed.
 *
 * @example
 * if (!decision.allowed) reply.header('retry-after', String(retryAfterSeconds(decision)));
 */
export function retryAfterSeconds(decision: Pick<RateLimitDecision, 'allowed' | 'retryAfterMs'>): number {
  if (decision.allowed) return 0;
  return Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
}

/**
 * The response headers for one decision: `ratelimit-policy` and `ratelimit`, plus `retry-after` when limited.
 *
 * @example
 * for (const [name, value] of Object.entries(rateLimitHeaders(decision))) reply.header(name, value);
 */
export function rateLimitHeaders(
  decision: RateLimitDecision,
  options: RateLimitHeaderOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-policy': rateLimitPolicyHeader(decision.policy, options),
    ratelimit: rateLimitHeader(decision, options),
  };
  if (!decision.allowed) headers['retry-after'] = String(retryAfterSeconds(decision));
  return headers;
}

function isList<T>(value: T | readonly T[]): value is readonly T[] {
  return Array.isArray(value);
}

// RFC 8941 §4.1.6: printable ASCII only; backslash and double quote escaped.
function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw invalidOption('rateLimitHeader', 'name', 'printable ASCII', value);
  // Policy names rarely hold either character: most calls skip replace (whose `$&` takes V8's slow path).
  return value.includes('"') || value.includes('\\') ? `"${value.replace(/[\\"]/g, '\\$&')}"` : `"${value}"`;
}

// RFC 8941 §4.1.4: at most 15 digits; quotas are non-negative integers.
function sfInteger(value: number): string {
  const n = Math.max(0, Math.floor(value));
  return String(Math.min(n, 999_999_999_999_999));
}

function partitionKey(value: string | Uint8Array | undefined): string {
  if (value === undefined) return '';
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return `;pk=:${bytes.toString('base64')}:`;
}
