// Bad input gets a clear 4xx problem, never a 5xx: explicit cases, then generated junk on every route.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let token: string;
before(async () => {
  t = await startTestApp();
  token = await t.login('admin@acme.test');
});
after(() => t.close());

const problemType = 'application/problem+json; charset=utf-8';

describe('explicit bad input', () => {
  test('malformed JSON → 400 HR_MALFORMED_JSON', async () => {
    const res = await t.as(token, {
      method: 'POST',
      url: '/v1/cases',
      payload: '{"title": "x",',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], problemType);
    assert.equal(res.json().code, 'HR_MALFORMED_JSON');
  });

  test('a body over the limit → 413 HR_BODY_TOO_LARGE', async () => {
    const res = await t.as(token, {
      method: 'POST',
      url: '/v1/cases',
      payload: JSON.stringify({ title: 'x', description: 'y'.repeat(70_000) }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'HR_BODY_TOO_LARGE');
  });

  test('an unknown route → 404 problem', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers['content-type'], problemType);
    assert.equal(res.json().code, 'HR_ROUTE_NOT_FOUND');
  });

  test('a non-numeric or out-of-range id → 400 naming params.id', async () => {
    for (const id of ['abc', '0', '-1', '99999999999', '1.5']) {
      const res = await t.as(token, { url: `/v1/cases/${id}` });
      assert.equal(res.statusCode, 400, id);
      assert.equal(res.json().field, 'params.id', id);
    }
  });
});

const routes: { method: string; path: string; body: boolean }[] = [
  { method: 'POST', path: '/v1/auth/login', body: true },
  { method: 'POST', path: '/v1/auth/logout', body: false },
  { method: 'GET', path: '/v1/me', body: false },
  { method: 'POST', path: '/v1/api-keys', body: true },
  { method: 'GET', path: '/v1/api-keys', body: false },
  { method: 'DELETE', path: '/v1/api-keys/:id', body: false },
  { method: 'GET', path: '/v1/cases/search', body: false },
  { method: 'GET', path: '/v1/cases/:id', body: false },
  { method: 'POST', path: '/v1/cases', body: true },
  { method: 'PATCH', path: '/v1/cases/:id', body: true },
  { method: 'GET', path: '/v1/cases/:id/timeline', body: false },
  { method: 'GET', path: '/v1/cases/:id/comments', body: false },
  { method: 'POST', path: '/v1/cases/:id/comments', body: true },
  { method: 'POST', path: '/v1/entities', body: true },
  { method: 'GET', path: '/v1/entities/:id', body: false },
  { method: 'POST', path: '/v1/cases/:id/entities', body: true },
];

const idArb = fc.oneof(
  fc.integer({ min: -5, max: 400 }).map(String),
  fc.constantFrom(
    '0',
    '1e3',
    '9007199254740993',
    '2147483648',
    'NaN',
    '%00',
    '%FF',
    '..',
    '1;DROP TABLE cases',
  ),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const queryArb = fc.dictionary(
  fc.constantFrom('q', 'status', 'limit', 'cursor', 'expand', 'fields', 'x', 'limit[]'),
  fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.integer().map(String),
    fc.constantFrom('owner.team.org', 'open', '-1', 'eyJ4Ijox'),
  ),
  { maxKeys: 4 },
);
const jsonBodyArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      title: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(null)),
      status: fc.oneof(fc.constantFrom('open', 'closed', 'nope'), fc.integer()),
      owner_id: fc.oneof(fc.integer(), fc.constant(null), fc.string({ maxLength: 5 })),
      entity_id: fc.oneof(fc.integer(), fc.string({ maxLength: 5 })),
      body: fc.oneof(fc.string({ maxLength: 50 }), fc.object()),
      email: fc.oneof(fc.emailAddress(), fc.string({ maxLength: 20 })),
      password: fc.string({ maxLength: 20 }),
      kind: fc.constantFrom('person', 'ip', 'alien'),
      name: fc.string({ maxLength: 20 }),
      attributes: fc.oneof(fc.object({ maxDepth: 2 }), fc.string()),
    },
    { requiredKeys: [] },
  ),
);
const rawBodyArb = fc.oneof(
  jsonBodyArb.map((value) => ({ payload: JSON.stringify(value) ?? 'null', type: 'application/json' })),
  fc.string({ maxLength: 60 }).map((payload) => ({ payload, type: 'application/json' })),
  fc.string({ maxLength: 60 }).map((payload) => ({ payload, type: 'text/plain' })),
  fc.string({ maxLength: 60 }).map((payload) => ({ payload, type: 'application/x-www-form-urlencoded' })),
);

test('generated junk on every route: never a 5xx, every error a problem+json with a code', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      idArb,
      queryArb,
      rawBodyArb,
      fc.boolean(),
      async (route, id, query, body, withToken) => {
        const url = `${route.path.replace(':id', id)}?${new URLSearchParams(query).toString()}`;
        const headers: Record<string, string> = withToken ? { authorization: `Bearer ${token}` } : {};
        if (route.body) headers['content-type'] = body.type;
        const res = await t.app.inject({
          method: route.method as 'GET',
          url,
          headers,
          ...(route.body ? { payload: body.payload } : {}),
        });
        assert.ok(
          res.statusCode < 500,
          `${route.method} ${url} ${body.payload} → ${res.statusCode} ${res.body}`,
        );
        if (res.statusCode >= 400) {
          assert.equal(res.headers['content-type'], problemType);
          assert.match(res.json().code, /^HR_[A-Z_]+$/);
        }
      },
    ),
    { numRuns: 1500, seed: 20261122 },
  );
});
