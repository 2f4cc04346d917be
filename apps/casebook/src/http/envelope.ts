// The v1 list envelope and the response schemas of casebook's answers: what a client may rely on, named once.

import { type TSchema, Type } from 'typebox';

/**
 * The version of the list envelope's shape (not of its data): `{version, data, page?, stale?}` keep their
 * meaning while it is 1. A change a client must notice (a member renamed, removed or meaning otherwise)
 * gets a new number; adding a member does not.
 */
export const envelopeVersion = 1;

/**
 * A timestamp as the API writes it: ISO 8601 in UTC, the JSON of the `Date` a row holds (so a handler may
 * return the Date itself).
 */
export const Timestamp = Type.Unsafe<string | Date>(Type.String({ format: 'date-time' }));

/** `page` of a cursor-paginated list: the cursor of the next page (null on the last) and the page size used. */
export const Page = Type.Object(
  { next_cursor: Type.Union([Type.String(), Type.Null()]), limit: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

/** `stale`: true when the answer was read from cache past its fresh time (see `src/http/cached-reads.ts`). */
export const Stale = Type.Boolean({
  description:
    'true when this answer was served from cache after its fresh time (being refreshed, or the source failed)',
});

/**
 * A cursor-paginated list read through the cache: `{version, data, page, stale}`.
 *
 * @example
 * app.get('/v1/cases/search', { schema: { response: { 200: PagedList(CaseSummary) } } }, handler);
 */
export function PagedList<T extends TSchema>(item: T) {
  return Type.Object({
    version: Type.Literal(envelopeVersion),
    data: Type.Array(item),
    page: Page,
    stale: Stale,
  });
}

/** A whole list in one answer (no pages): `{version, data}`. */
export function WholeList<T extends TSchema>(item: T) {
  return Type.Object(
    { version: Type.Literal(envelopeVersion), data: Type.Array(item) },
    { additionalProperties: false },
  );
}

/**
 * `schema.response` of a route that sends JSON it serialized itself (stored cache bytes, an ETag's exact
 * bytes): Fastify still uses the schemas for objects a handler returns, while the handler's own type stays
 * free to return the reply. Its bytes are checked against these schemas by the tests and the fuzz suite.
 *
 * @example
 * app.get('/v1/cases/:id', { schema: { params: IdParams, ...responses({ 200: CaseDetail }) } }, handler);
 */
export function responses(schemas: Record<number, TSchema>): { response: unknown } {
  return { response: schemas };
}
