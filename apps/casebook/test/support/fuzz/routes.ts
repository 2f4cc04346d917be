// Every casebook route the fuzz suite attacks, with the fields each one reads: the values its schema takes
// and the hostile ones. A test checks this table against the app's own routes.

import fc from 'fast-check';
import { edgeNumbers, type Field, field, number, overLong, text, validText } from './arbitraries.ts';
import { cursorArbitrary } from './issued.ts';
import { type OwnKind, own } from './own.ts';

/** One route and what to send it. */
export interface FuzzRoute {
  method: string;
  /** The route template, as Fastify knows it (`/v1/cases/:id`). */
  url: string;
  /** What `:id` names: a case, an entity, an API key. */
  id?: OwnKind;
  /** Query-string members (all optional). */
  query?: Record<string, Field>;
  /** Body members; a route without them sends no body (or junk, sometimes). */
  body?: Record<string, Field>;
}

/** What the app handed out before the attack (filled in after the table is built, read as values are drawn). */
export interface Issued {
  /** `next_cursor`s of real first pages. */
  cursors: string[];
  /** `ETag`s of real cases, for If-Match and If-None-Match. */
  etags: string[];
  /** Names of the breakers and caches the admin API has. */
  names: string[];
}

const statuses = fc.constantFrom('open', 'investigating', 'escalated', 'closed');
const priorities = fc.constantFrom('low', 'medium', 'high', 'critical');
const kinds = fc.constantFrom('person', 'organization', 'account', 'device', 'address', 'ip');
const anyId = fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constantFrom(...edgeNumbers));
const words = (list: string[]) =>
  fc.constantFrom(...list, ...list.map((w) => w.toUpperCase()), ` ${list[0]}`);

/**
 * The route table; `issued` is read as values are drawn, so the caller fills it after building the table.
 *
 * @example
 * const issued: Issued = { cursors: [], etags: [], names: [] };
 * const routes = fuzzRoutes(issued); // fill `issued` before running
 */
export function fuzzRoutes(issued: Issued): FuzzRoute[] {
  const realCursor = fc.nat().map((i) => issued.cursors[i % Math.max(issued.cursors.length, 1)] ?? 'x');
  const page = {
    limit: field(fc.integer({ min: 1, max: 100 }), fc.constantFrom(0, -1, 101, 1.5, '1e1', '0x10', ' 5', '')),
    cursor: field(realCursor, cursorArbitrary(issued.cursors)),
  };
  // An admin route's `?tenant=`: a real tenant, or one that is not, empty, a NUL or too long.
  const adminTenant = field(
    own('tenant'),
    fc.constantFrom('1', '999', 'acme', '', '\u0000', 'x'.repeat(300)),
  );
  const caseBody = {
    title: field(validText, overLong),
    description: field(validText, overLong),
    status: field(statuses, words(['open', 'closed'])),
    priority: field(priorities, words(['low', 'high'])),
    owner_id: field(fc.oneof(own('user'), fc.constant(null)), anyId),
  };
  return [
    {
      method: 'POST',
      url: '/v1/auth/login',
      body: {
        email: field(
          fc.constantFrom('analyst@acme.test', 'admin@globex.test', 'nobody@acme.test'),
          fc.constantFrom(
            'a\ud800@acme.test',
            'a\u0000@acme.test',
            'A@B.C',
            'x',
            `${'a'.repeat(250)}@acme.test`,
          ),
        ),
        password: field(fc.constantFrom('headroom-demo', 'wrong'), overLong),
      },
    },
    { method: 'POST', url: '/v1/auth/logout' },
    { method: 'GET', url: '/v1/me' },
    { method: 'POST', url: '/v1/api-keys', body: { name: field(validText, overLong) } },
    { method: 'GET', url: '/v1/api-keys' },
    { method: 'DELETE', url: '/v1/api-keys/:id', id: 'key' },
    {
      method: 'GET',
      url: '/v1/cases/search',
      query: {
        q: field(fc.oneof(validText, words(['fraud', 'wire'])), text),
        status: field(statuses),
        ...page,
      },
    },
    {
      method: 'GET',
      url: '/v1/cases/:id',
      id: 'case',
      query: {
        expand: field(
          fc.constantFrom('owner', 'owner.team', 'owner.team.org', 'owner,owner.team'),
          fc.constantFrom(
            'team',
            'owner.',
            'owner..team',
            'owner,',
            ',',
            'owner.team.org.x',
            'owner,'.repeat(30),
          ),
        ),
        fields: field(
          fc.constantFrom('title', 'title,status', 'id,owner,version', 'updated_at'),
          fc.constantFrom('nope', 'title,,status', 'title,', '__proto__', 'toString', 'title,'.repeat(50)),
        ),
      },
    },
    { method: 'POST', url: '/v1/cases', body: caseBody },
    { method: 'PATCH', url: '/v1/cases/:id', id: 'case', body: caseBody },
    { method: 'GET', url: '/v1/cases/:id/timeline', id: 'case', query: page },
    { method: 'GET', url: '/v1/cases/:id/comments', id: 'case', query: page },
    { method: 'POST', url: '/v1/cases/:id/comments', id: 'case', body: { body: field(validText, overLong) } },
    { method: 'GET', url: '/v1/cases/:id/suggestions', id: 'case' },
    {
      method: 'POST',
      url: '/v1/entities',
      body: {
        kind: field(kinds, words(['person', 'ip'])),
        name: field(validText, overLong),
        attributes: field(
          fc.dictionary(
            fc.string({ minLength: 1, maxLength: 20 }),
            fc.oneof(
              validText,
              fc.integer(),
              fc.double({ noNaN: true, noDefaultInfinity: true }),
              fc.boolean(),
            ),
            { maxKeys: 5 },
          ),
          fc.oneof(
            fc.dictionary(text, fc.oneof(text, number, fc.boolean()), { maxKeys: 4 }),
            fc.dictionary(fc.string({ maxLength: 3 }), fc.constant('v'), { minKeys: 51, maxKeys: 60 }),
            fc.constant({ ['k'.repeat(65)]: 'v' }),
            fc.constant({ '\u0000': 'v', k: 'a\u0000b' }),
            fc.constant({ k: 'v'.repeat(1_001) }),
            fc.constant({ k: { nested: { deeper: [1, { x: null }] } } }),
            fc.constant(JSON.parse('{"__proto__":{"polluted":true},"constructor":"x"}')),
          ),
        ),
      },
    },
    { method: 'GET', url: '/v1/entities/:id', id: 'entity' },
    {
      method: 'POST',
      url: '/v1/cases/:id/entities',
      id: 'case',
      body: { entity_id: field(own('entity'), anyId), role: field(validText, overLong) },
    },
    {
      method: 'POST',
      url: '/v1/exports',
      body: {
        kind: field(fc.constant('cases'), words(['cases', 'entities'])),
        format: field(fc.constantFrom('csv', 'ndjson'), words(['csv', 'ndjson', 'xlsx'])),
        filter: field(
          fc.record({ q: validText, status: statuses }, { requiredKeys: [] }),
          fc.oneof(
            fc.dictionary(text, fc.oneof(text, number), { maxKeys: 3 }),
            fc.constant({ q: 'q'.repeat(201) }),
            fc.constant({ q: '' }),
            fc.constant({ status: 'nope' }),
            text,
            number,
          ),
        ),
      },
    },
    { method: 'GET', url: '/v1/exports/:id', id: 'export' },
    { method: 'GET', url: '/v1/exports/:id/events', id: 'export' },
    { method: 'GET', url: '/v1/exports/:id/download', id: 'export' },
    ...webhookRoutes(page),
    { method: 'GET', url: '/health' },
    { method: 'GET', url: '/health/ready' },
    { method: 'GET', url: '/health/live' },
    { method: 'GET', url: '/metrics' },
    {
      method: 'POST',
      url: '/rum',
      body: {
        journey: field(fc.constantFrom('case-search', 'case-detail'), fc.oneof(validText, overLong)),
        metrics: field(
          fc.array(
            fc.record({
              name: fc.constantFrom('TTFB', 'FCP', 'LCP', 'INP', 'CLS'),
              value: fc.double({ min: 0, max: 100, noNaN: true }),
            }),
            { minLength: 1, maxLength: 10 },
          ),
          fc.oneof(
            fc.constant([]),
            fc.array(fc.record({ name: validText, value: fc.oneof(number, fc.constant(-1)) }), {
              maxLength: 12,
            }),
          ),
        ),
      },
    },
    { method: 'GET', url: '/admin/webhooks/failing' },
    { method: 'GET', url: '/admin/degrader' },
    {
      method: 'GET',
      url: '/admin/showback',
      query: {
        tenant: adminTenant,
      },
    },
    {
      method: 'GET',
      url: '/admin/ratelimits/tenants',
      query: {
        limit: page.limit,
        tenant: adminTenant,
      },
    },
    // The operations page: without a session every page and API route is refused before it reads anything
    // (303 to sign-in, 401, 403 HR_CSRF); sign-in reads a form, and JSON or junk is no form.
    { method: 'GET', url: '/_headroom' },
    { method: 'GET', url: '/_headroom/api/state' },
    { method: 'GET', url: '/_headroom/sign-in' },
    {
      method: 'POST',
      url: '/_headroom/sign-in',
      body: {
        token: field(validText, overLong),
        email: field(fc.constantFrom('admin@acme.test', 'analyst@acme.test'), overLong),
        password: field(validText, overLong),
      },
    },
    { method: 'POST', url: '/_headroom/sign-out' },
    { method: 'POST', url: '/_headroom/api/breakers/:name/reset' },
    { method: 'POST', url: '/_headroom/api/breakers/:name/isolate' },
    { method: 'POST', url: '/_headroom/api/breakers/:name/release' },
    {
      method: 'POST',
      url: '/_headroom/api/flags/:name/override',
      body: { value: field(fc.boolean(), fc.constantFrom('off', null)), reason: field(validText, overLong) },
    },
    { method: 'POST', url: '/_headroom/api/flags/:name/clear', body: { reason: field(validText, overLong) } },
    { method: 'POST', url: '/_headroom/api/queues/:name/pause' },
    { method: 'POST', url: '/_headroom/api/queues/:name/resume' },
    {
      method: 'POST',
      url: '/_headroom/api/queues/:name/redrive',
      body: {
        id: field(fc.integer({ min: 1, max: 400 }).map(String), fc.oneof(text, number)),
        tenant: field(fc.constantFrom('1', '2'), fc.constantFrom('', '\u0000')),
      },
    },
    {
      method: 'POST',
      url: '/_headroom/api/caches/:name/invalidate',
      body: {
        tags: field(fc.constant(['case:1']), fc.constantFrom([], 'x')),
        tenant: field(fc.constant('1'), fc.constant('')),
      },
    },
    { method: 'GET', url: '/_headroom/assets/page.js' },
    { method: 'GET', url: '/_headroom/assets/page.css' },
    { method: 'GET', url: '/_headroom/assets/uplot.js' },
    { method: 'GET', url: '/_headroom/assets/uplot.css' },
    { method: 'GET', url: '/admin/flags' },
    {
      method: 'PUT',
      url: '/admin/flags/:name',
      body: {
        value: field(fc.boolean(), fc.constantFrom('true', 1, null, 'x'.repeat(200))),
        tenant: field(fc.constantFrom('1', '2'), fc.constantFrom('', 'x'.repeat(300))),
        reason: field(validText, overLong),
      },
    },
    {
      method: 'DELETE',
      url: '/admin/flags/:name',
      body: {
        tenant: field(fc.constantFrom('1', '2'), fc.constantFrom('')),
        reason: field(validText, overLong),
      },
    },
    { method: 'GET', url: '/admin/breakers' },
    { method: 'POST', url: '/admin/breakers/:name/reset' },
    { method: 'POST', url: '/admin/breakers/:name/isolate' },
    { method: 'DELETE', url: '/admin/breakers/:name/isolate' },
    { method: 'GET', url: '/admin/bulkheads' },
    { method: 'GET', url: '/admin/caches' },
    { method: 'GET', url: '/admin/queues' },
    // Names are the breakers' and caches' (`issued.names`), never `exports`: pausing it answers every new
    // export with 503 by design, which the fuzz forbids (exports.test.ts covers the kill switch).
    { method: 'POST', url: '/admin/queues/:name/pause' },
    { method: 'POST', url: '/admin/queues/:name/resume' },
    {
      method: 'GET',
      url: '/admin/queues/:name/dead',
      query: {
        tenant: field(own('tenant'), fc.constantFrom('1', '999', 'acme', '', '\u0000')),
        after: field(fc.integer({ min: 1, max: 400 }).map(String), fc.constantFrom('-1', 'x', '1e3', '')),
        limit: field(fc.integer({ min: 1, max: 1_000 }), fc.constantFrom(0, -1, 1_001, 1.5, '')),
      },
    },
    {
      method: 'POST',
      url: '/admin/queues/:name/redrive',
      body: {
        id: field(fc.integer({ min: 1, max: 400 }).map(String), fc.oneof(text, number)),
        tenant: field(own('tenant'), fc.constantFrom('1', '999', 'acme', '', '\u0000')),
      },
    },
    {
      method: 'POST',
      url: '/admin/caches/:name/invalidate',
      body: {
        tags: field(
          fc.array(fc.constantFrom('cases', 'case:1', 'credential:x', 'search'), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.oneof(fc.constant([]), fc.array(text, { maxLength: 3 }), fc.constant(Array(1_000).fill('t'))),
        ),
        tenant: field(own('tenant'), fc.constantFrom('1', '2', '3', '999', 'acme', '', '\u0000')),
      },
    },
  ];
}

const eventNames = fc.constantFrom('case.created', 'case.updated', 'comment.created', 'export.completed');
const webhookUrls = fc.oneof(
  fc.constantFrom('https://hooks.example.com/x', 'http://hooks.example.com:8080/y'),
  fc.webUrl(),
);
const hostileUrls = fc.oneof(
  fc.constantFrom(
    'http://127.0.0.1/',
    'http://[::1]:80/',
    'http://[::ffff:10.0.0.1]/',
    'http://169.254.169.254/latest/meta-data',
    'file:///etc/passwd',
    'gopher://x/',
    'https://user:pw@hooks.example.com/',
    'not a url',
    '',
    `https://hooks.example.com/${'a'.repeat(2_001)}`,
  ),
  text,
);

/** The webhook endpoint routes (tenant admins only). */
function webhookRoutes(page: Record<string, Field>): FuzzRoute[] {
  const events = field(
    fc.uniqueArray(eventNames, { minLength: 1, maxLength: 4 }),
    fc.oneof(
      fc.constant([]),
      fc.constant(['case.created', 'case.created']),
      fc.array(text, { maxLength: 3 }),
      text,
    ),
  );
  return [
    {
      method: 'POST',
      url: '/v1/webhooks',
      body: { url: field(webhookUrls, hostileUrls), events, description: field(validText, overLong) },
    },
    { method: 'GET', url: '/v1/webhooks', query: page },
    { method: 'GET', url: '/v1/webhooks/:id', id: 'webhook' },
    {
      method: 'PATCH',
      url: '/v1/webhooks/:id',
      id: 'webhook',
      body: {
        url: field(webhookUrls, hostileUrls),
        events,
        enabled: field(fc.boolean(), fc.constantFrom('true', 0, 1, null)),
        description: field(validText, overLong),
      },
    },
    { method: 'DELETE', url: '/v1/webhooks/:id', id: 'webhook' },
    { method: 'POST', url: '/v1/webhooks/:id/rotate-secret', id: 'webhook' },
    {
      method: 'GET',
      url: '/v1/webhooks/:id/deliveries',
      id: 'webhook',
      query: {
        ...page,
        state: field(fc.constantFrom('pending', 'delivered', 'failed'), words(['pending', 'lost'])),
      },
    },
    { method: 'GET', url: '/v1/webhooks/:id/deliveries/:did', id: 'webhook' },
    { method: 'POST', url: '/v1/webhooks/:id/deliveries/:did/retry', id: 'webhook' },
    {
      method: 'POST',
      url: '/v1/webhooks/:id/recover',
      id: 'webhook',
      body: {
        since: field(
          fc
            .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
            .map((d) => d.toISOString()),
          fc.constantFrom('yesterday', '2026-13-01T00:00:00Z', '', '0', '2026-01-01', `${'9'.repeat(40)}`),
        ),
      },
    },
  ];
}
