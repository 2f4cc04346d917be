// Opaque keyset cursors: the sort key of the last row of a page, base64url-encoded.

import { casebookErrors } from '../errors.ts';
import { envelopeVersion } from './envelope.ts';

/** A position in a list ordered by (timestamp DESC, id DESC). */
export interface Cursor {
  at: string;
  id: number;
}

/** Encodes the sort key of a page's last row. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

/** The largest id of an `integer` column; `bigint` lists pass `Number.MAX_SAFE_INTEGER`. */
export const maxIntegerId = 2 ** 31 - 1;

// What PostgreSQL prints for a timestamptz (`created_at::text`, DateStyle ISO): the only form a cursor
// of ours holds. Anything else (`"1"`, `"Jan 1"`, year 275760) is refused here, not by a cast in SQL.
const timestampText =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::(\d{2})(?::(\d{2}))?)?$/;

/**
 * Decodes a cursor from a query string, strictly: exactly what {@link encodeCursor} made (the same bytes
 * when encoded again), a timestamp in PostgreSQL's text form that is a real instant, an id from 1 to
 * `maxId`. Anything else is a 400 naming `query.cursor`.
 *
 * @example
 * const after = query.cursor ? decodeCursor(query.cursor) : undefined;
 */
export function decodeCursor(text: string, maxId = maxIntegerId): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value as [unknown, unknown];
      if (
        typeof at === 'string' &&
        isTimestampText(at) &&
        Number.isSafeInteger(id) &&
        (id as number) >= 1 &&
        (id as number) <= maxId &&
        encodeCursor({ at, id: id as number }) === text
      ) {
        return { at, id: id as number };
      }
    }
  } catch {
    // fall through to the error below
  }
  throw casebookErrors.create('HR_INVALID_CURSOR', 'query.cursor is not a cursor this API issued', {
    context: { field: 'query.cursor' },
  });
}

/**
 * A position in a list ordered by id alone (webhook endpoints and deliveries): the id of the last row shown,
 * as `[id]`, in the same envelope as {@link encodeCursor}.
 */
export function encodeIdCursor(id: number): string {
  return Buffer.from(JSON.stringify([id])).toString('base64url');
}

/** Decodes an id cursor as strictly as {@link decodeCursor}: what {@link encodeIdCursor} made, or a 400. */
export function decodeIdCursor(text: string, maxId = Number.MAX_SAFE_INTEGER): number {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 1) {
      const [id] = value as [unknown];
      if (
        Number.isSafeInteger(id) &&
        (id as number) >= 1 &&
        (id as number) <= maxId &&
        encodeIdCursor(id as number) === text
      ) {
        return id as number;
      }
    }
  } catch {
    // fall through to the error below
  }
  throw casebookErrors.create('HR_INVALID_CURSOR', 'query.cursor is not a cursor this API issued', {
    context: { field: 'query.cursor' },
  });
}

/** True for a timestamptz as PostgreSQL prints it, naming a date and time that exist (no 30 February). */
export function isTimestampText(text: string): boolean {
  const m = timestampText.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetH, offsetM = 0, offsetS = 0] = m
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part)));
  return (
    year !== undefined &&
    month !== undefined &&
    day !== undefined &&
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    (hour ?? 99) <= 23 &&
    (minute ?? 99) <= 59 &&
    (second ?? 99) <= 59 &&
    (offsetH ?? 99) <= 15 &&
    offsetM <= 59 &&
    offsetS <= 59
  );
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** A page of a list as the API answers it (`PagedList` in `envelope.ts`). */
export interface ListPage<Out> {
  version: typeof envelopeVersion;
  data: Out[];
  page: { next_cursor: string | null; limit: number };
  /** False as built: a cached page is flagged stale only when it is served stale (`sendEntry`). */
  stale: boolean;
}

/** The list envelope of a page whose position is an id: `next` is the id after which the next page starts. */
export function idPage<Out>(data: Out[], limit: number, next: string | number | undefined): ListPage<Out> {
  return {
    version: envelopeVersion,
    data,
    page: { next_cursor: next === undefined ? null : encodeIdCursor(Number(next)), limit },
    stale: false,
  };
}

/**
 * Builds the list envelope `{version, data, page, stale: false}` from `limit + 1` fetched rows: the extra
 * row only says another page exists.
 */
export function page<Row extends { id: number }, Out>(
  rows: Row[],
  limit: number,
  at: (row: Row) => string,
  present: (row: Row) => Out,
): ListPage<Out> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  const next = more && last ? encodeCursor({ at: at(last), id: last.id }) : null;
  return {
    version: envelopeVersion,
    data: shown.map(present),
    page: { next_cursor: next, limit },
    stale: false,
  };
}
