// One API shape: every v1 body has snake_case members and matches its route's response schema; lists are
// `{version, data, page, stale}`; an answer read from cache past its fresh time says `stale: true`, under a
// tag of its own that If-Match still accepts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { LoginAnswer } from '../src/auth/routes.ts';
import { CaseDetail, CaseSummary, Comment, TimelineEvent } from '../src/cases/schemas.ts';
import { PagedList } from '../src/http/envelope.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { nonSnakeMembers } from './support/shape.ts';

let t: TestApp;
let acme: string;
let admin: string;
let caseId: number;
before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  admin = await t.login('admin@acme.test');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 1",
  );
  caseId = rows[0]!.id;
});
after(() => t.close());

function assertMatches(schema: TSchema, body: unknown, what: string): void {
  const errors = [...Value.Errors(schema, body)].map((e) => `${e.instancePath} ${e.message}`);
  assert.deepEqual(errors, [], `${what}: ${JSON.stringify(body).slice(0, 300)}`);
}

describe('every v1 body is snake_case and matches its schema', () => {
  test('login, lists, detail, writes, me, api keys (suggestions: suggestions.test.ts)', async () => {
    const login = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
    });
    assertMatches(LoginAnswer, login.json(), 'login');
    assert.deepEqual(nonSnakeMembers(login.json()), ['expiresAt'], 'only the deprecated member');

    const bodies: [string, TSchema | undefined, unknown][] = [];
    const get = async (url: string, schema?: TSchema, token = acme) => {
      const res = await t.as(token, { url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      bodies.push([url, schema, res.json()]);
      return res.json();
    };
    const first = await get('/v1/cases/search?limit=2', PagedList(CaseSummary));
    await get(`/v1/cases/search?limit=2&cursor=${first.page.next_cursor}`, PagedList(CaseSummary));
    await get(`/v1/cases/${caseId}`, CaseDetail);
    await get(`/v1/cases/${caseId}?expand=owner.team.org`, CaseDetail);
    await get(`/v1/cases/${caseId}?fields=title,owner`, CaseDetail);
    const timeline = await get(`/v1/cases/${caseId}/timeline?limit=1`, PagedList(TimelineEvent));
    await get(
      `/v1/cases/${caseId}/timeline?limit=1&cursor=${timeline.page.next_cursor}`,
      PagedList(TimelineEvent),
    );
    const comment = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${caseId}/comments`,
      payload: { body: 'shape check' },
    });
    assert.equal(comment.statusCode, 201);
    bodies.push(['POST comments', Comment, comment.json()]);
    await get(`/v1/cases/${caseId}/comments`, PagedList(Comment));
    const created = await t.as(acme, { method: 'POST', url: '/v1/cases', payload: { title: 'Shape' } });
    bodies.push(['POST /v1/cases', CaseDetail, created.json()]);
    const patched = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${created.json().id}`,
      payload: { status: 'closed' },
    });
    bodies.push(['PATCH /v1/cases/:id', CaseDetail, patched.json()]);
    await get('/v1/me');
    await get('/v1/api-keys', undefined, admin);

    for (const [what, schema, body] of bodies) {
      assert.deepEqual(nonSnakeMembers(body), [], what);
      if (schema) assertMatches(schema, body, what);
    }
  });

  test('every list carries the envelope version', async () => {
    for (const [url, token] of [
      ['/v1/cases/search', acme],
      [`/v1/cases/${caseId}/timeline`, acme],
      [`/v1/cases/${caseId}/comments`, acme],
      ['/v1/api-keys', admin],
    ] as const) {
      const body = (await t.as(token, { url })).json();
      assert.equal(body.version, 1, url);
      assert.ok(Array.isArray(body.data), url);
    }
  });
});

describe('stale answers say so (fake clock: past the fresh time, within stale-while-revalidate)', () => {
  test('search, detail, fields variant, timeline and comments: stale: true under the stale tag; fresh again after the refresh', async () => {
    const urls = [
      '/v1/cases/search?q=fraud',
      `/v1/cases/${caseId}?expand=owner`,
      `/v1/cases/${caseId}?fields=title`,
      `/v1/cases/${caseId}/timeline`,
      `/v1/cases/${caseId}/comments`,
    ];
    const fresh = new Map<string, { etag: string; body: Record<string, unknown> }>();
    for (const url of urls) {
      const res = await t.as(acme, { url });
      assert.equal(res.json().stale, false, url);
      fresh.set(url, { etag: String(res.headers.etag), body: res.json() });
    }
    // Fresh for 60 s ± 10% jitter, then served stale for 60 s while one refresh runs.
    t.clock.advance(70_000);
    for (const url of urls) {
      const res = await t.as(acme, { url });
      const was = fresh.get(url)!;
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(res.json(), { ...was.body, stale: true }, `${url}: the same data, flagged`);
      assert.equal(res.headers.etag, `${was.etag.slice(0, -1)}~stale"`, `${url}: a tag of its own`);
      assert.equal(res.headers['cache-control'], 'private, no-cache', url);
    }
    await waitForFresh(urls);
  });

  test('a tag read from a stale detail passes If-Match while the case is unchanged, and 412s once it changed', async () => {
    const url = `/v1/cases/${caseId}`;
    assert.equal((await t.as(acme, { url })).json().stale, false);
    t.clock.advance(70_000);
    const stale = await t.as(acme, { url });
    assert.equal(stale.json().stale, true);
    const tag = String(stale.headers.etag);
    assert.match(tag, /^"\d+-[A-Za-z0-9_-]{16}~stale"$/);
    const patched = await t.as(acme, {
      method: 'PATCH',
      url,
      payload: { priority: 'high' },
      headers: { 'if-match': tag },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().stale, false, 'a write answers what it wrote');
    const again = await t.as(acme, {
      method: 'PATCH',
      url,
      payload: { priority: 'low' },
      headers: { 'if-match': tag },
    });
    assert.equal(again.statusCode, 412, 'the version moved on');
  });
});

describe('stale answers say so (grace: PostgreSQL fails past the stale-while-revalidate window)', () => {
  test('a detail and a search page read while their table is gone: the cached data, stale: true; fresh again once it is back', async () => {
    const urls = [`/v1/cases/${caseId}?expand=owner.team.org`, '/v1/cases/search?q=phishing'];
    const fresh = new Map<string, unknown>();
    for (const url of urls) {
      const res = await t.as(acme, { url });
      assert.equal(res.json().stale, false, url);
      fresh.set(url, res.json());
    }
    // Past fresh (60 s ± 10%) and stale-while-revalidate (60 s more), within grace (5 min after fresh).
    t.clock.advance(130_000);
    await t.db.pool.query('ALTER TABLE cases RENAME TO cases_away');
    try {
      for (const url of urls) {
        const res = await t.as(acme, { url });
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        assert.deepEqual(res.json(), { ...(fresh.get(url) as object), stale: true }, url);
        assert.match(String(res.headers.etag), /~stale"$/, url);
      }
    } finally {
      await t.db.pool.query('ALTER TABLE cases_away RENAME TO cases');
    }
    t.clock.advance(2_000); // the failed load's backoff (graceBackoff)
    for (const url of urls) assert.equal((await t.as(acme, { url })).json().stale, false, url);
  });
});

/** Waits for the refreshes the stale reads started (the cache's background work), then reads each URL fresh. */
async function waitForFresh(urls: string[]): Promise<void> {
  await t.app.headroom.caches.caches.get('casebook')!.whenIdle();
  for (const url of urls) assert.equal((await t.as(acme, { url })).json().stale, false, url);
}
