// Requests for one route of the table: its params, query and body mutated, headers added now and then, all
// drawn by fast-check; the caller's own ids, tenant and ETags are filled in when the request is sent.

import fc from 'fast-check';
import { anyJson, type Field, idArbitrary, idSegment, mostly, overLong, text } from './arbitraries.ts';
import {
  brokenJson,
  contentTypes,
  oversizedBody,
  pathSuffixes,
  rawQueries,
  requestIds,
} from './http-edges.ts';
import { entityTagArbitrary } from './issued.ts';
import { Own, own } from './own.ts';
import type { FuzzRoute, Issued } from './routes.ts';

/** A request as drawn: `Own` values stand for what only the caller knows. */
export interface FuzzRequest {
  method: string;
  /** The route template with `:id` and `:name` still in it. */
  route: string;
  id: string | Own;
  name: string;
  /** What `:did` (a webhook delivery) becomes: a small id, or junk. */
  did: string;
  query: [string, unknown][];
  /** JSON to serialise (it may hold `Own` values), or raw text; undefined sends no body. */
  body: { json: unknown } | { raw: string } | undefined;
  headers: Record<string, string | Own>;
  /** Appended to the path, unencoded. */
  pathSuffix: string | undefined;
  /** Appended to the query string, unencoded. */
  rawQuery: string | undefined;
}

/** A request ready for `inject`. */
export interface SentRequest {
  method: string;
  url: string;
  /** The `:id` the server sees once the path is normalised ('' when the route has none or it moved). */
  id: string;
  headers: Record<string, string>;
  payload?: string;
}

/** What fills in `Own` values: the caller's own ids, tenant, and the current ETag of the case addressed. */
export type Resolve = (own: Own, id: string) => Promise<string | number>;

/** `value` `weight` times in 10, else absent. */
function sometimes<T>(value: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 10 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary: value });
}

/** Each field valid, or (hostile) valid most of the time. */
function values(fields: Record<string, Field>, hostile: boolean): Record<string, fc.Arbitrary<unknown>> {
  const pick = ([name, f]: [string, Field]) => [name, hostile ? mostly(f) : f.valid] as const;
  return Object.fromEntries(Object.entries(fields).map(pick));
}

function bodyArbitrary(route: FuzzRoute, hostile: boolean): fc.Arbitrary<FuzzRequest['body']> {
  if (!route.body) {
    return hostile
      ? sometimes(
          fc.oneof(text, overLong).map((raw) => ({ raw })),
          2,
        )
      : fc.constant(undefined);
  }
  if (!hostile) return fc.record(values(route.body, false)).map((json) => ({ json }));
  const members = fc.oneof(
    { weight: 8, arbitrary: fc.record(values(route.body, true)) },
    { weight: 2, arbitrary: fc.record(values(route.body, true), { requiredKeys: [] }) },
  );
  const json = fc
    .tuple(members, sometimes(fc.tuple(fc.oneof(text, fc.constant('__proto__')), anyJson), 2))
    .map(([body, extra]) => ({ json: extra ? { ...body, [extra[0]]: extra[1] } : body }));
  return fc.oneof(
    { weight: 30, arbitrary: json },
    { weight: 2, arbitrary: anyJson.map((value) => ({ json: value })) },
    { weight: 1, arbitrary: text.map((raw) => ({ raw })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...brokenJson).map((raw) => ({ raw })),
    },
    { weight: 1, arbitrary: oversizedBody },
  );
}

function queryArbitrary(route: FuzzRoute, hostile: boolean): fc.Arbitrary<[string, unknown][]> {
  const members = Object.entries(values(route.query ?? {}, hostile)).map(([name, value]) =>
    sometimes(
      hostile
        ? fc.oneof(
            { weight: 9, arbitrary: value.map((v): unknown[] => [v]) },
            { weight: 1, arbitrary: fc.tuple(value, value) },
          )
        : value.map((v): unknown[] => [v]),
      6,
    ).map((values): [string, unknown][] => (values ?? []).map((v) => [name, v])),
  );
  const unknown = hostile
    ? sometimes(fc.tuple(fc.oneof(text, fc.constant('__proto__')), text), 1)
    : fc.constant(undefined);
  return fc
    .tuple(fc.tuple(...members), unknown)
    .map(([known, extra]) => [...known.flat(), ...(extra ? [extra] : [])]);
}

// What clients send (browsers, curl, undici), preferences that refuse a coding, and junk.
const acceptEncodings = fc.constantFrom(
  'gzip, deflate, br',
  'gzip',
  'br',
  'identity',
  '*',
  'x-gzip',
  'br;q=0, gzip;q=0.5',
  'gzip;q=0, identity',
  'zstd',
  'gzip;q=abc, br;q=',
  ',,,',
  '',
);

// Idempotency keys: good ones (quoted, bare, a few reused so replays and 422s happen) and broken ones.
const idempotencyKeys = fc.oneof(
  fc.constantFrom('"k-1"', '"k-2"', 'k-1', '"k-3"'),
  fc.string({ maxLength: 300 }).map((s) => `"${s}"`),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('""', '"unterminated', '"a"b"', '"\\x"', `"${'x'.repeat(256)}"`, '"é"', ' "padded" '),
);

function headersArbitrary(route: FuzzRoute, issued: Issued, hostile: boolean) {
  const tag = hostile ? entityTagArbitrary(issued.etags) : own('etag');
  const tenant = hostile
    ? fc.oneof(own('tenant'), fc.constantFrom('1', '2', '3', '999', '', 'acme', '2147483648', '-1', '1.0'))
    : own('tenant');
  return fc
    .record({
      'if-match': sometimes(tag, route.method === 'PATCH' ? 6 : 1),
      'if-none-match': sometimes(tag, route.method === 'GET' ? 3 : 1),
      'x-tenant-id': sometimes(tenant, 2),
      'x-request-id': hostile ? sometimes(requestIds, 1) : fc.constant(undefined),
      'content-type': hostile ? contentTypes : fc.constant('application/json'),
      'accept-encoding': sometimes(acceptEncodings, 2),
      'idempotency-key': sometimes(idempotencyKeys, route.method === 'POST' ? 3 : 1),
    })
    .map(
      (all) =>
        Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<
          string,
          string | Own
        >,
    );
}

/**
 * Requests for `route`: a quarter clean (every value valid, the caller's own ids; they reach the handlers
 * and change data), the rest hostile (most values valid, some not; headers, body and method attacked too).
 */
export function requestArbitrary(route: FuzzRoute, issued: Issued): fc.Arbitrary<FuzzRequest> {
  const name = fc.oneof(
    { weight: 3, arbitrary: fc.nat().map((i) => issued.names[i % Math.max(issued.names.length, 1)] ?? 'x') },
    { weight: 1, arbitrary: idSegment },
  );
  const of = (hostile: boolean) =>
    fc.record({
      method: hostile ? methodArbitrary(route) : fc.constant(route.method),
      id: route.id ? (hostile ? idArbitrary(route.id) : own(route.id)) : fc.constant(''),
      name,
      did: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 60 }).map(String) },
        { weight: 1, arbitrary: idSegment },
      ),
      query: queryArbitrary(route, hostile),
      body: bodyArbitrary(route, hostile),
      headers: headersArbitrary(route, issued, hostile),
      pathSuffix: hostile ? sometimes(pathSuffixes, 1) : fc.constant(undefined),
      rawQuery: hostile ? sometimes(rawQueries, 1) : fc.constant(undefined),
    });
  return fc
    .oneof({ weight: 1, arbitrary: of(false) }, { weight: 3, arbitrary: of(true) })
    .map((parts) => ({ ...parts, route: route.url }));
}

/** Mostly the route's own method; now and then one the path does not have (405) or HEAD. */
function methodArbitrary(route: FuzzRoute): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 14, arbitrary: fc.constant(route.method) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
  );
}

/**
 * Fills in the caller's values and serialises the request.
 *
 * @example
 * const sent = await render(request, caller.resolve);
 */
export async function render(request: FuzzRequest, resolve: Resolve): Promise<SentRequest> {
  const id = String(request.id instanceof Own ? await resolve(request.id, '') : request.id);
  const values = new Map<Own, string | number>();
  const fill = async (value: unknown): Promise<void> => {
    if (value instanceof Own) values.set(value, await resolve(value, id));
    else if (value && typeof value === 'object') for (const v of Object.values(value)) await fill(v);
  };
  await fill([request.query, request.body, request.headers]);
  const replace = (_key: string, value: unknown) => (value instanceof Own ? values.get(value) : value);
  const params = new URLSearchParams();
  for (const [name, value] of request.query) params.append(name, asQueryValue(replace('', value)));
  const search = [params.toString(), request.rawQuery ?? ''].filter(Boolean).join('&');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers))
    headers[name] = printable(String(replace('', value)));
  const path = `${request.route.replace(':id', id).replace(':name', request.name).replace(':did', request.did)}${request.pathSuffix ?? ''}`;
  const sent: SentRequest = {
    method: request.method,
    id: idSeen(request.route, path),
    url: `${path}${search ? `?${search}` : ''}`,
    headers,
  };
  if (request.body === undefined) delete headers['content-type'];
  else
    sent.payload =
      'raw' in request.body ? request.body.raw : (JSON.stringify(request.body.json, replace) ?? '');
  return sent;
}

// inject resolves dot segments as a client would (`/v1/cases/abc/../1` reaches case 1).
function idSeen(route: string, path: string): string {
  const template = route.split('/');
  const segments = new URL(path, 'http://x').pathname.split('/');
  const at = template.indexOf(':id');
  if (at === -1 || segments.length !== template.length) return '';
  try {
    return decodeURIComponent(segments[at] ?? '');
  } catch {
    return '';
  }
}

// URLSearchParams turns an unpaired surrogate into U+FFFD; NUL and the rest go through as %-escapes.
function asQueryValue(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

// Header values must be visible ASCII for any client to send them; what a client cannot send is raw-socket work.
function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '');
}
