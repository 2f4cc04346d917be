// Strong entity tags of versioned resources, and the If-Match check of RFC 9110 §13.1.1.

import { hash } from 'node:crypto';
import { parseEntityTags } from '@headroom/fastify';

/**
 * A strong ETag `"<version>-<digest>"`: the version lets If-Match check staleness without re-reading
 * the representation; the digest of the exact bytes keeps the tag strong across representations
 * (expand / fields variants of one version have different bytes, so different tags).
 */
export function versionedEtag(version: number, body: string): string {
  return `"${version}-${hash('sha1', body, 'base64url').slice(0, 16)}"`;
}

/**
 * The same tag as `versionedEtag(version, bytes)`, from the strong ETag the cache computed for those bytes
 * (`"<sha1 base64url>"`): a cache hit builds its tag without hashing anything again.
 *
 * @example
 * versionedEtagOf(3, entry.etag) === versionedEtag(3, entry.bytes.toString()) // true
 */
export function versionedEtagOf(version: number, bytesEtag: string): string {
  return `"${version}-${bytesEtag.slice(1, 17)}"`;
}

/**
 * The versions an If-Match header accepts: `null` for `*` (any current representation), else the versions
 * of its strong tags. Weak tags never match If-Match (strong comparison); an absent header gives undefined.
 *
 * @example
 * ifMatchVersions('"3-abc", W/"4-def"') // [3]
 */
export function ifMatchVersions(header: string | undefined): number[] | null | undefined {
  if (header === undefined) return undefined;
  const tags = parseEntityTags(header);
  if (tags === '*') return null;
  const versions: number[] = [];
  for (const tag of tags) {
    const version = tag.weak ? null : /^(\d{1,10})-/.exec(tag.opaque);
    if (version) versions.push(Number(version[1]));
  }
  return versions;
}
