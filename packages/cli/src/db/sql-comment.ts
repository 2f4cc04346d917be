// Reads sqlcommenter tags (https://google.github.io/sqlcommenter/spec/) back out of SQL text: the inverse of
// `sqlComment` in @headroom/fastify, for texts that pg_stat_statements, pg_stat_activity or a slow-query log kept.
// Such texts are not ours to trust: a comment that is not a well-formed tag list (PostgreSQL 18 writes its own
// `/*, ... */` into squashed IN lists) is skipped, never an error.

/** The tags of a statement; `route` and `statement` are the two casebook writes. */
export interface SqlTags {
  route?: string;
  statement?: string;
  [key: string]: string | undefined;
}

// A block comment, not nested (PostgreSQL nests them, sqlcommenter never does).
const comment = /\/\*([\s\S]*?)\*\//g;
// `key='value'`, the value with `\'` as the spec's escape for a quote (our encoder writes %27 instead).
const pair = /^\s*([^\s=,'*/]+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*(?:,|$)/;

/**
 * The tags of every well-formed sqlcommenter comment in `text`, decoded; where two comments name the same key,
 * the later one wins (the spec appends the comment, so the last is the one the application wrote).
 *
 * @example
 * parseSqlComment("SELECT 1\n/*route='GET%20%2Fv1%2Fcases%2F%3Aid',statement='case-detail-1'*\/");
 * // { route: 'GET /v1/cases/:id', statement: 'case-detail-1' }
 */
export function parseSqlComment(text: string): SqlTags {
  const tags: SqlTags = {};
  for (const match of text.matchAll(comment)) Object.assign(tags, commentTags(match[1]!));
  return tags;
}

/**
 * `text` without its sqlcommenter comments (other comments stay), trimmed.
 *
 * @example
 * withoutSqlComment("SELECT 1\n/*route='GET%20%2F'*\/"); // 'SELECT 1'
 */
export function withoutSqlComment(text: string): string {
  return text.replace(comment, (whole, body: string) => (commentTags(body) ? '' : whole)).trim();
}

// The tags of one comment's body, or undefined when it is not a tag list.
function commentTags(body: string): SqlTags | undefined {
  const tags: SqlTags = {};
  let rest = body.trim();
  if (rest === '') return undefined;
  while (rest !== '') {
    const match = pair.exec(rest);
    if (!match) return undefined;
    const key = decode(match[1]!);
    const value = decode(match[2]!);
    if (key === undefined || value === undefined) return undefined;
    // A plain object's __proto__ is not a member; no tag of the spec's is called so.
    if (key !== '__proto__') tags[key] = value;
    rest = rest.slice(match[0].length);
  }
  return tags;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\\(.)/g, '$1'));
  } catch {
    return undefined;
  }
}
