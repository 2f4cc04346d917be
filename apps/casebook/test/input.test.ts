// Bad input gets a clear 4xx problem, never a 5xx: explicit cases (generated attacks: fuzz.test.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
