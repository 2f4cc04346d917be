// Entity tags and conditional requests per RFC 9110 §8.8.3 and §13.1: lists, `*`, weak and strong comparison.

/** One entity tag: `"abc"` (strong) or `W/"abc"` (weak). */
export interface EntityTag {
  weak: boolean;
  /** The opaque tag, without quotes. */
  opaque: string;
}

/**
 * Parses an If-Match / If-None-Match value per RFC 9110 §13.1: `*` alone, or a list of entity tags
 * (`W/"x"` or `"x"`, where x is etagc: %x21 / %x23-7E / obs-text, so a comma may sit inside the quotes)
 * separated by commas with optional whitespace. A malformed member is skipped up to the next comma (a
 * recipient must not fail a request over it); it matches nothing.
 *
 * @example
 * parseEntityTags('W/"1", "2"') // [{ weak: true, opaque: '1' }, { weak: false, opaque: '2' }]
 */
export function parseEntityTags(header: string): EntityTag[] | '*' {
  if (header.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  let i = 0;
  const n = header.length;
  const skipWhitespace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  while (i < n) {
    skipWhitespace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const weak = header.startsWith('W/', i);
    const open = weak ? i + 2 : i;
    const close = header[open] === '"' ? header.indexOf('"', open + 1) : -1;
    const opaque = close === -1 ? undefined : header.slice(open + 1, close);
    if (opaque !== undefined && isEtagText(opaque)) {
      i = close + 1;
      skipWhitespace();
      if (i >= n || header[i] === ',') {
        tags.push({ weak, opaque });
        continue;
      }
    }
    // Malformed: skip to the next comma outside the member's own characters.
    const comma = header.indexOf(',', i + 1);
    i = comma === -1 ? n : comma;
  }
  return tags;
}

function isEtagText(opaque: string): boolean {
  for (let k = 0; k < opaque.length; k++) {
    const c = opaque.charCodeAt(k);
    if (c < 0x21 || c === 0x22 || c === 0x7f || c > 0xff) return false;
  }
  return true;
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
