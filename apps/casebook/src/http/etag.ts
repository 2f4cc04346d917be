// Strong entity tags of versioned resources, and the If-Match check of RFC 9110 §13.1.1.

import { hash } from 'node:crypto';
import { parseEntityTags } from '@headroom/fastify';

/**
 * A strong ETag `"<version>-<digest>"`: the version lets If-Match find staleness at a glance; the digest of
 * the exact bytes keeps the tag strong across representations (each expand depth has its own bytes, so its
 * own tag).
 */
export function versionedEtag(version: number, body: string): string {
  return `"${version}-${digest(body)}"`;
}

/** The 16-character digest part of a versioned tag: SHA-1 of the bytes, base64url. */
export function digest(body: string | Buffer): string {
  return hash('sha1', body, 'base64url').slice(0, 16);
}

/**
 * The same tag as `versionedEtag(version, bytes)`, from the strong ETag the cache computed for those bytes
 * (`"<sha1 base64url>"`): a cache hit builds its tag without hashing anything again. `variant` marks a
 * narrowed representation (`fields=`): its bytes change exactly when the full representation's do, so it
 * carries the full one's digest plus a suffix that tells the two apart.
 *
 * @example
 * versionedEtagOf(3, entry.etag) === versionedEtag(3, entry.bytes.toString()) // true
 */
export function versionedEtagOf(version: number, bytesEtag: string, variant?: string): string {
  return `"${version}-${bytesEtag.slice(1, 17)}${variant === undefined ? '' : `.${variant}`}"`;
}

/**
 * The tag of a representation served stale: the bytes of the fresh one with `"stale": true`, so another
 * strong tag; derived from the fresh tag (`"T"` → `"T~stale"`), so If-Match still finds the version and
 * digest it was read from.
 *
 * @example
 * staleEtag('"3-AbCdEfGhIjKlMnOp"') // '"3-AbCdEfGhIjKlMnOp~stale"'
 */
export function staleEtag(etag: string): string {
  return `${etag.slice(0, -1)}~stale"`;
}

/** What an If-Match tag of ours says: the version and the digest of the representation it was read from. */
export interface VersionTag {
  version: number;
  digest: string;
}

// `"<version>-<digest>"`, then the marks a variant may carry: `.<fields>` (a `fields=` selection), `~stale`
// (served stale), `-gzip` / `-br` (the content coding it was sent in). None changes what the tag validates.
const versionTag = /^(\d{1,10})-([A-Za-z0-9_-]{16})(?:\.[0-9a-z]{1,8})?(?:~stale)?(?:-(?:gzip|br))?$/;

/**
 * Parses If-Match (RFC 9110 §13.1.1): `'*'` (any current representation), the strong tags of ours it lists,
 * or undefined when the header is absent. A variant's marks (fields, stale, content coding) are read past:
 * the tag still names the version and the digest of the representation it came from. Weak tags never match (strong comparison); tags that are not
 * ours, or name a version no row can have, are dropped: a list of only such tags matches nothing (412).
 *
 * @example
 * ifMatchTags('"3-AbCdEfGhIjKlMnOp", W/"4-x"') // [{ version: 3, digest: 'AbCdEfGhIjKlMnOp' }]
 */
export function ifMatchTags(header: string | undefined): VersionTag[] | '*' | undefined {
  if (header === undefined) return undefined;
  const tags = parseEntityTags(header);
  if (tags === '*') return '*';
  const found: VersionTag[] = [];
  for (const tag of tags) {
    const match = tag.weak ? null : versionTag.exec(tag.opaque);
    const version = match ? Number(match[1]) : 0;
    if (match && version >= 1 && version <= 2 ** 31 - 1) found.push({ version, digest: match[2]! });
  }
  return found;
}
