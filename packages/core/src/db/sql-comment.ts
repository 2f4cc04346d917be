// sqlcommenter (https://google.github.io/sqlcommenter/spec/): tags appended to a statement as a comment, so the
// database's own views (pg_stat_activity, pg_stat_statements, auto_explain and slow-query logs) say which route
// ran it. PostgreSQL ignores comments when it plans or fingerprints a statement, so a tag changes neither the
// plan nor pg_stat_statements' grouping. Both directions live here: `sqlComment` writes the comment (the app's
// database layer), `parseSqlComment` reads it back from texts those views kept. Such texts are not ours to
// trust: a comment that is not a well-formed tag list (PostgreSQL 18 writes its own `/*, ... */` into squashed
// IN lists) is skipped, never an error.

/** The tags of a statement; `route` and `statement` are the two casebook writes. */
export interface SqlTags {
  route?: string;
  statement?: string;
  [key: string]: string | undefined;
}

/**
 * The comment for `tags`: keys sorted, values URL-encoded and single-quoted; undefined values are left out, and
 * no tags give ''. `*` and `/` are encoded too, so a value can never close the comment.
 *
 * @example
 * sqlComment({ route: 'GET /v1/cases/:id', statement: 'case-detail-1' });
 * // "/*route='GET%20%2Fv1%2Fcases%2F%3Aid',statement='case-detail-1'*\/"
 */
export function sqlComment(tags: Readonly<Record<string, string | undefined>>): string {
  const pairs: string[] = [];
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key];
    if (value !== undefined) pairs.push(`${encode(key)}='${encode(value)}'`);
  }
  return pairs.length === 0 ? '' : `/*${pairs.join(',')}*/`;
}

// encodeURIComponent leaves ' ( ) * ! ~ alone; the spec wants ' escaped, and * must not meet / (comment end).
const encode = (text: string) =>
  encodeURIComponent(text).replace(/['()*!~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// A block comment, not nested (PostgreSQL nests them, sqlcommenter never does).
const comment = /\/\*([\s\S]*?)\*\//g;
// `key='value'`, the value with `\'` as the spec's escape for a quote (`sqlComment` writes %27 instead).
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
