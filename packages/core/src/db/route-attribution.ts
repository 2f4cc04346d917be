// Which routes ran a statement of pg_stat_statements. The stored text's sqlcommenter comment names one: the
// first to run it since the reset, since pg_stat_statements keys a statement by a queryid that ignores comments
// and keeps one text. A statement catalogue recorded from the app names all of them.

import type { SqlTags } from './sql-comment.ts';

/** One statement of an app's statement catalogue (casebook's is apps/casebook/db/queries.json). */
export interface CatalogueQuery {
  name: string;
  text: string;
  /** Sample parameters from a real request; absent or null: the generic plan is explained. */
  values?: unknown[] | null;
  routes?: string[];
  /** The most times one request sent it. */
  max_per_request?: number;
}

/** Where a row's routes come from: the catalogue, the first-seen comment alone, or nowhere. */
export type Attribution = 'catalogue' | 'comment' | 'none';

/** What {@link routeAttributor} says of one statement. */
export interface RouteAttribution {
  /** Every route known to run it, sorted. */
  routes: string[];
  attribution: Attribution;
  /** The comment's statement name, else the catalogue's for the same text. */
  statement: string | null;
}

/**
 * Finds a statement's catalogue entries: by the comment's statement name, else (casebook names only its hot
 * statements) by text, compared as pg_stat_statements compares them: comments, constants and spacing aside.
 *
 * @example
 * const attribute = routeAttributor(catalogue);
 * attribute(row.query, parseSqlComment(row.query)); // { routes: ['GET /v1/cases/:id'], attribution: 'comment', … }
 */
export function routeAttributor(
  catalogue: readonly CatalogueQuery[] = [],
): (query: string, tags: SqlTags) => RouteAttribution {
  const byName = new Map<string, CatalogueQuery[]>();
  const byShape = new Map<string, CatalogueQuery[]>();
  for (const entry of catalogue) {
    for (const [map, key] of [
      [byName, entry.name],
      [byShape, shape(entry.text)],
    ] as const) {
      map.set(key, [...(map.get(key) ?? []), entry]);
    }
  }
  return (query, tags) => {
    const entries =
      (tags.statement === undefined ? undefined : byName.get(tags.statement)) ?? byShape.get(shape(query));
    const statement = tags.statement ?? entries?.[0]?.name ?? null;
    if (entries !== undefined) {
      const routes = new Set(entries.flatMap((e) => e.routes ?? []));
      // The comment proves its route ran the statement, whatever an older catalogue says.
      if (tags.route !== undefined) routes.add(tags.route);
      return { routes: [...routes].sort(), attribution: 'catalogue', statement };
    }
    if (tags.route !== undefined) return { routes: [tags.route], attribution: 'comment', statement };
    return { routes: [], attribution: 'none', statement };
  };
}

// pg_stat_statements writes every constant as $n: strings (with their B, E, X or N prefix), numbers, and the
// keywords NULL, TRUE and FALSE. Those keywords become ? wherever they stand, `IS NULL` included, on both sides
// alike. (A unary minus and an exponent stay outside the ?: `-1` and `1e3` in a catalogue's text do not match.)
const shape = (text: string) =>
  text
    .replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, ' ')
    .replace(/(?:\b[bexn])?'(?:[^']|'')*'/gi, '?')
    .replace(/\$\d+|\b\d+(?:\.\d+)?\b|\b(?:null|true|false)\b/gi, '?')
    // PostgreSQL 18 squashes a list of constants into one: `IN ($1 /*, ... */)`.
    .replace(/\?(?:\s*,\s*\?)+/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
