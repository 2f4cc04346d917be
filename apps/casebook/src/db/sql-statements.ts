// Splits a SQL script into its statements, for the migrations that must send each statement alone (CREATE INDEX
// CONCURRENTLY refuses to run inside the implicit transaction of a multi-statement query). A semicolon ends a
// statement unless it sits in a quoted string, a quoted identifier, a dollar-quoted body or a comment.

/**
 * The statements of `sql`, trimmed, without empty ones (comments stay with the statement they precede).
 *
 * @example
 * splitStatements("CREATE INDEX CONCURRENTLY a ON t (x); -- done\nSELECT ';'");
 * // ['CREATE INDEX CONCURRENTLY a ON t (x)', "-- done\nSELECT ';'"]
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const text = sql.slice(start, end).trim();
    if (stripComments(text).trim() !== '') statements.push(text);
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      i = blockCommentEnd(sql, i);
    } else if (c === "'" || c === '"') {
      i = quoteEnd(sql, i, c);
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_][\w]*)?\$/.exec(sql.slice(i))?.[0];
      if (tag === undefined) i++;
      else {
        const end = sql.indexOf(tag, i + tag.length);
        i = end === -1 ? sql.length : end + tag.length;
      }
    } else if (c === ';') {
      push(i);
      start = ++i;
    } else i++;
  }
  push(sql.length);
  return statements;
}

// A quoted string or identifier ends at its closing quote; a doubled quote inside is part of it. (An E'' string's
// backslash escapes are honoured too: `\'` does not close it.)
function quoteEnd(sql: string, open: number, quote: string): number {
  const escapes = quote === "'" && /[eE]/.test(sql[open - 1] ?? '') && !/\w/.test(sql[open - 2] ?? '');
  let i = open + 1;
  while (i < sql.length) {
    if (escapes && sql[i] === '\\') i += 2;
    else if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

// Block comments nest in PostgreSQL.
function blockCommentEnd(sql: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return sql.length;
}

function stripComments(text: string): string {
  return text.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}
