// Opaque keyset cursors: the sort key of the last row of a page, base64url-encoded.

import { HeadroomError } from '@headroom/core/errors';

/** A position in a list ordered by (timestamp DESC, id DESC). */
export interface Cursor {
  at: string;
  id: number;
}

/** Encodes the sort key of a page's last row. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

/**
 * Decodes a cursor from a query string; anything malformed is a 400 naming `query.cursor`.
 *
 * @example
 * const after = query.cursor ? decodeCursor(query.cursor) : undefined;
 */
export function decodeCursor(text: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value as [unknown, unknown];
      if (
        typeof at === 'string' &&
        !Number.isNaN(Date.parse(at)) &&
        Number.isSafeInteger(id) &&
        (id as number) > 0
      ) {
        return { at, id: id as number };
      }
    }
  } catch {
    // fall through to the error below
  }
  throw new HeadroomError('HR_INVALID_CURSOR', 'query.cursor is not a cursor this API issued', {
    status: 400,
    context: { field: 'query.cursor' },
  });
}

/** Builds `{ data, page }` from `limit + 1` fetched rows: the extra row only says another page exists. */
export function page<Row extends { id: number }, Out>(
  rows: Row[],
  limit: number,
  at: (row: Row) => string,
  present: (row: Row) => Out,
): { data: Out[]; page: { next_cursor: string | null; limit: number } } {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  const next = more && last ? encodeCursor({ at: at(last), id: last.id }) : null;
  return { data: shown.map(present), page: { next_cursor: next, limit } };
}
