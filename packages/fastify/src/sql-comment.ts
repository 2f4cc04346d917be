// sqlcommenter (https://google.github.io/sqlcommenter/spec/): tags appended to a statement as a comment, so
// the database's own views (pg_stat_activity, pg_stat_statements, auto_explain and slow-query logs) say which
// route ran it. PostgreSQL ignores comments when it plans or fingerprints a statement, so a tag changes neither
// the plan nor pg_stat_statements' grouping.

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
