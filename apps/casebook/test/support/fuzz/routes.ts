// Every casebook route the fuzz suite attacks, with the fields each one reads, as arbitraries that are
// valid most of the time and hostile the rest. A test checks this table against the app's own routes.

import fc from 'fast-check';
import { anyJson, cursorArbitrary, entityTagHeader, idSegment, mostly, number, text } from './arbitraries.ts';

/** One route and what to send it. */
export interface FuzzRoute {
  method: string;
  /** The route template, as Fastify knows it (`/v1/cases/:id`). */
  url: string;
  /** Query-string members: name → values (a value may repeat, as `limit=1&limit=2`). */
  query?: Record<string, fc.Arbitrary<unknown>>;
  /** Body members; a route without them sends no body (or junk, sometimes). */
  body?: Record<string, fc.Arbitrary<unknown>>;
}

const statuses = fc.constantFrom('open', 'investigating', 'escalated', 'closed');
const priorities = fc.constantFrom('low', 'medium', 'high', 'critical');
const kinds = fc.constantFrom('person', 'organization', 'account', 'device', 'address', 'ip');
const smallId = fc.integer({ min: 1, max: 400 });
const limit = mostly(fc.integer({ min: 1, max: 100 }));

/**
 * The route table. `cursors` will hold real `next_cursor`s taken from first pages (it is read as values are
 * drawn), so valid ones are attacked too.
 *
 * @example
 * const cursors: string[] = [];
 * const routes = fuzzRoutes(cursors); // fill `cursors` before running
 */
export function fuzzRoutes(cursors: readonly string[]): FuzzRoute[] {
  const cursor = cursorArbitrary(cursors);
  const page = { limit, cursor };
  const caseBody = {
    title: mostly(fc.string({ minLength: 1, maxLength: 60 })),
    description: mostly(text),
    status: mostly(statuses),
    priority: mostly(priorities),
    owner_id: mostly(fc.oneof(smallId, fc.constant(null))),
  };
  return [
    {
      method: 'POST',
      url: '/v1/auth/login',
      body: {
        email: mostly(
          fc.constantFrom('analyst@acme.test', 'nobody@acme.test', 'a\ud800@acme.test', 'A@B.C', 'x'),
        ),
        password: mostly(fc.constantFrom('headroom-demo', 'wrong')),
      },
    },
    { method: 'POST', url: '/v1/auth/logout' },
    { method: 'GET', url: '/v1/me' },
    { method: 'POST', url: '/v1/api-keys', body: { name: mostly(text) } },
    { method: 'GET', url: '/v1/api-keys' },
    { method: 'DELETE', url: '/v1/api-keys/:id' },
    {
      method: 'GET',
      url: '/v1/cases/search',
      query: { q: mostly(text), status: mostly(statuses), ...page },
    },
    {
      method: 'GET',
      url: '/v1/cases/:id',
      query: {
        expand: mostly(fc.constantFrom('owner', 'owner.team', 'owner.team.org', 'owner,owner.team', 'team')),
        fields: mostly(fc.constantFrom('title', 'title,status', 'id,owner', 'nope', 'title,,status')),
      },
    },
    { method: 'POST', url: '/v1/cases', body: caseBody },
    { method: 'PATCH', url: '/v1/cases/:id', body: caseBody },
    { method: 'GET', url: '/v1/cases/:id/timeline', query: page },
    { method: 'GET', url: '/v1/cases/:id/comments', query: page },
    { method: 'POST', url: '/v1/cases/:id/comments', body: { body: mostly(text) } },
    { method: 'GET', url: '/v1/cases/:id/suggestions' },
    {
      method: 'POST',
      url: '/v1/entities',
      body: {
        kind: mostly(kinds),
        name: mostly(text),
        attributes: mostly(
          fc.dictionary(text, fc.oneof(text, number, fc.boolean(), anyJson), { maxKeys: 4 }),
        ),
      },
    },
    { method: 'GET', url: '/v1/entities/:id' },
    {
      method: 'POST',
      url: '/v1/cases/:id/entities',
      body: { entity_id: mostly(smallId), role: mostly(text) },
    },
    { method: 'GET', url: '/health' },
    { method: 'GET', url: '/health/ready' },
    { method: 'GET', url: '/health/live' },
    { method: 'GET', url: '/metrics' },
    { method: 'GET', url: '/admin/breakers' },
    { method: 'POST', url: '/admin/breakers/:name/reset' },
    { method: 'POST', url: '/admin/breakers/:name/isolate' },
    { method: 'DELETE', url: '/admin/breakers/:name/isolate' },
    { method: 'GET', url: '/admin/bulkheads' },
    { method: 'GET', url: '/admin/caches' },
    {
      method: 'POST',
      url: '/admin/caches/:name/invalidate',
      body: {
        tags: mostly(fc.array(mostly(fc.constantFrom('cases', 'case:1', 'credential:x')), { maxLength: 3 })),
        tenant: mostly(fc.constantFrom('1', '2', '3', '999')),
      },
    },
  ];
}

/** One request to send: everything but the credentials, which the runner picks. */
export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/json; charset=latin1',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-8',
      'multipart/form-data; boundary=x',
    ),
  },
);

/** Requests for `route`: its params, query and body mutated, plus extra headers and members now and then. */
export function requestArbitrary(route: FuzzRoute): fc.Arbitrary<FuzzRequest> {
  const query = fc.record(
    {
      ...Object.fromEntries(
        Object.entries(route.query ?? {}).map(([name, value]) => [
          name,
          fc.array(value, { minLength: 1, maxLength: 2 }),
        ]),
      ),
      unknown: fc.array(text, { maxLength: 1 }),
    },
    { requiredKeys: [] },
  );
  const body = route.body
    ? fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .tuple(
              fc.record(route.body, { requiredKeys: [] }),
              fc.option(fc.tuple(text, anyJson), { freq: 5 }),
            )
            .map(([members, extra]) =>
              JSON.stringify(extra ? { ...members, [extra[0]]: extra[1] } : members),
            ),
        },
        { weight: 1, arbitrary: anyJson.map((value) => JSON.stringify(value)) },
        { weight: 1, arbitrary: text },
      )
    : fc.option(text, { freq: 8 });
  const headers = fc.record(
    {
      'if-match': entityTagHeader,
      'if-none-match': entityTagHeader,
      'x-tenant-id': fc.constantFrom('1', '2', '3', '999', '', 'acme'),
      'content-type': contentTypes,
    },
    { requiredKeys: ['content-type'] },
  );
  const name = fc.oneof(fc.constantFrom('enrichment', 'casebook', 'search'), idSegment);
  return fc.tuple(idSegment, name, query, body, headers).map(([id, segment, q, payload, extra]) => {
    const params = new URLSearchParams();
    for (const [name, values] of Object.entries(q)) {
      for (const value of values as unknown[]) params.append(name, asQueryValue(value));
    }
    const search = params.toString();
    const request: FuzzRequest = {
      method: route.method,
      url: `${route.url.replace(':id', id).replace(':name', segment)}${search ? `?${search}` : ''}`,
      headers: Object.fromEntries(Object.entries(extra).map(([name, value]) => [name, printable(value)])),
    };
    if (payload !== null && payload !== undefined) request.payload = payload;
    else delete request.headers['content-type'];
    return request;
  });
}

// URLSearchParams turns an unpaired surrogate into U+FFFD; NUL and the rest go through as %-escapes.
function asQueryValue(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

// Header values must be visible ASCII for any client to send them; what a client cannot send is raw-socket work.
function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '');
}
