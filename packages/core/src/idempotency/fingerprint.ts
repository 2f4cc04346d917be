// What makes two requests "the same" for an idempotency key: method, path, query and body, with JSON read
// canonically (member order and white space do not matter; values do).

import { createHash } from 'node:crypto';

/**
 * JSON text with object members sorted by name at every depth: two documents that differ only in member
 * order or white space give the same text.
 *
 * @example
 * canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }); // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const members = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${members.join(',')}}`;
}

/** The parts of a request its fingerprint covers. */
export interface FingerprintedRequest {
  method: string;
  /** The path and query as sent (`/v1/cases/5/comments?x=1`). */
  url: string;
  /** The parsed body: JSON is fingerprinted canonically, a string or bytes as they are. */
  body?: unknown;
}

/**
 * SHA-256 (hex) over the method, the URL and the canonical body.
 *
 * @example
 * requestFingerprint({ method: 'POST', url: '/v1/cases', body: { title: 'x' } });
 */
export function requestFingerprint(request: FingerprintedRequest): string {
  const hash = createHash('sha256').update(request.method).update('\n').update(request.url).update('\n');
  const { body } = request;
  if (Buffer.isBuffer(body)) hash.update('b').update(body);
  else if (typeof body === 'string') hash.update('s').update(body);
  else if (body !== undefined) hash.update('j').update(canonicalJson(body));
  return hash.digest('hex');
}
