// Entity tags and conditional requests per RFC 9110 §8.8.3 and §13.1: lists, `*`, weak and strong comparison.

/** One entity tag: `"abc"` (strong) or `W/"abc"` (weak). */
export interface EntityTag {
  weak: boolean;
  /** The opaque tag, without quotes. */
  opaque: string;
}

/**
 * Parses an If-Match / If-None-Match value: `*`, or a comma-separated list of entity tags. Malformed members
 * are skipped (a recipient must not fail a request over them).
 *
 * @example
 * parseEntityTags('W/"1", "2"') // [{ weak: true, opaque: '1' }, { weak: false, opaque: '2' }]
 */
export function parseEntityTags(header: string): EntityTag[] | '*' {
  if (header.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  for (const match of header.matchAll(/(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/g)) {
    tags.push({ weak: match[1] !== undefined, opaque: match[2]! });
  }
  return tags;
}

/** Parses one ETag header value; undefined when it is not an entity tag. */
export function parseEntityTag(value: string): EntityTag | undefined {
  const tags = parseEntityTags(value);
  return tags === '*' || tags.length !== 1 ? undefined : tags[0];
}

/** Strong comparison: both strong and the same opaque tag. */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison: the same opaque tag, weakness ignored. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/**
 * Whether If-None-Match holds (the request should get 304 for GET/HEAD): `*` matches any current
 * representation, a list matches when any member weakly matches the current ETag.
 *
 * @example
 * noneMatch('W/"v1"', '"v1"') // true: answer 304
 */
export function noneMatch(header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined || etag === undefined) return false;
  const tags = parseEntityTags(header);
  if (tags === '*') return true;
  const current = parseEntityTag(etag);
  return current !== undefined && tags.some((tag) => weakMatch(tag, current));
}
