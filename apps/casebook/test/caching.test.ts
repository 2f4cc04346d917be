// Casebook's application cache: reads cached per tenant, writes invalidate by tag (a writer reads its own
// write), ETags from the cached bytes, and no way across tenants through the cache.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acme: string;
let acmeAdmin: string;
let globex: string;
let caseId: number;
before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  acmeAdmin = await t.login('admin@acme.test');
  globex = await t.login('analyst@globex.test');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 1",
  );
  caseId = rows[0]!.id;
  await t.as(acme, { url: '/v1/me' }); // the principal's own cache load happens here, not in the tests
});
after(() => t.close());

const stats = async () => {
  const res = await t.operator({ url: '/admin/caches' });
  assert.equal(res.statusCode, 200);
  return res.json().data[0] as { loads: { total: number }; requests: { l1: { hit: number } } };
};

test('behind the door: a stampede of 500 concurrent misses on one key is admitted, and makes one load', async () => {
  const door = t.app.headroom.protection.bulkheads.get('requests');
  assert.ok(door, 'casebook has its adaptive limit at the door');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id DESC LIMIT 1",
  );
  const before = await stats();
  const answers = await Promise.all(
    Array.from({ length: 500 }, () => t.as(acme, { url: `/v1/cases/${rows[0]!.id}?expand=owner.team` })),
  );
  assert.deepEqual([...new Set(answers.map((r) => r.statusCode))], [200], 'none refused by the door');
  assert.equal((await stats()).loads.total - before.loads.total, 1);
  assert.equal(door.inflight, 0, 'every slot given back');
});

test('a repeated read is an L1 hit: no load, same bytes, same strong ETag', async () => {
  const before = await stats();
  const first = await t.as(acme, { url: `/v1/cases/${caseId}?expand=owner` });
  const second = await t.as(acme, { url: `/v1/cases/${caseId}?expand=owner` });
  assert.equal(second.body, first.body);
  assert.equal(second.headers.etag, first.headers.etag);
  assert.match(String(first.headers.etag), /^"\d+-[A-Za-z0-9_-]{16}"$/);
  const after = await stats();
  assert.equal(after.loads.total - before.loads.total, 1, 'one load for two reads');
  assert.ok(after.requests.l1.hit > before.requests.l1.hit);

  const conditional = await t.as(acme, {
    url: `/v1/cases/${caseId}?expand=owner`,
    headers: { 'if-none-match': String(first.headers.etag) },
  });
  assert.equal(conditional.statusCode, 304, 'the cached ETag revalidates');
});

test('a writer reads its own write: PATCH invalidates detail and search; a comment invalidates the first pages', async () => {
  const detail = await t.as(acme, { url: `/v1/cases/${caseId}` });
  const searchBefore = await t.as(acme, { url: '/v1/cases/search?q=zeppelin' });
  assert.equal(searchBefore.json().data.length, 0);
  const comments = await t.as(acme, { url: `/v1/cases/${caseId}/comments` });
  const timeline = await t.as(acme, { url: `/v1/cases/${caseId}/timeline` });

  const patched = await t.as(acme, {
    method: 'PATCH',
    url: `/v1/cases/${caseId}`,
    payload: { title: 'Zeppelin ticket fraud ring' },
    headers: { 'if-match': String(detail.headers.etag) },
  });
  assert.equal(patched.statusCode, 200);
  const fresh = await t.as(acme, { url: `/v1/cases/${caseId}` });
  assert.equal(fresh.json().title, 'Zeppelin ticket fraud ring');
  assert.equal(fresh.headers.etag, patched.headers.etag, 'the cached detail carries the ETag PATCH returned');
  const found = (await t.as(acme, { url: '/v1/cases/search?q=zeppelin' })).json().data;
  assert.deepEqual(
    found.map((c: { id: number }) => c.id),
    [caseId],
  );

  const stale = await t.as(acme, {
    method: 'PATCH',
    url: `/v1/cases/${caseId}`,
    payload: { priority: 'low' },
    headers: { 'if-match': String(detail.headers.etag) },
  });
  assert.equal(stale.statusCode, 412, 'If-Match checks the version, cache or not');

  const posted = await t.as(acme, {
    method: 'POST',
    url: `/v1/cases/${caseId}/comments`,
    payload: { body: 'Cached pages must show this at once.' },
  });
  assert.equal(posted.statusCode, 201);
  const commentsAfter = await t.as(acme, { url: `/v1/cases/${caseId}/comments` });
  assert.notEqual(commentsAfter.body, comments.body);
  assert.equal(commentsAfter.json().data[0].body, 'Cached pages must show this at once.');
  const timelineAfter = await t.as(acme, { url: `/v1/cases/${caseId}/timeline` });
  assert.equal(timelineAfter.json().data[0].kind, 'comment_added');
  assert.notEqual(timelineAfter.headers.etag, timeline.headers.etag);
});

test('another tenant cannot reach an entry through the cache, not even by replaying its ETag', async () => {
  const mine = await t.as(acme, { url: `/v1/cases/${caseId}` });
  assert.equal(mine.statusCode, 200);
  const theirs = await t.as(globex, { url: `/v1/cases/${caseId}` });
  assert.equal(theirs.statusCode, 404);
  const replay = await t.as(globex, {
    url: `/v1/cases/${caseId}`,
    headers: { 'if-none-match': String(mine.headers.etag) },
  });
  assert.equal(replay.statusCode, 404, 'no 304 for an ETag of another tenant');

  const acmeSearch = (await t.as(acme, { url: '/v1/cases/search?q=fraud' })).json().data as { id: number }[];
  const globexSearch = (await t.as(globex, { url: '/v1/cases/search?q=fraud' })).json().data as {
    id: number;
  }[];
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'globex'",
  );
  const globexIds = new Set(rows.map((r) => r.id));
  assert.ok(
    globexSearch.length > 0 && globexSearch.every((c) => globexIds.has(c.id)),
    'the same URL, globex data',
  );
  assert.ok(acmeSearch.every((c) => !globexIds.has(c.id)));
});

test('admins invalidate their own tenant’s tags only; process-wide cache stats are the operator’s', async () => {
  assert.equal((await t.as(acme, { url: '/admin/caches' })).statusCode, 403);
  assert.equal((await t.as(acmeAdmin, { url: '/admin/caches' })).statusCode, 403, 'stats span tenants');
  const analyst = await t.as(acme, {
    method: 'POST',
    url: '/admin/caches/casebook/invalidate',
    payload: { tags: ['cases'] },
  });
  assert.equal(analyst.statusCode, 403, 'an analyst is no admin');
  const globexTenantId = (await t.db.pool.query("SELECT id FROM tenants WHERE slug = 'globex'")).rows[0].id;
  const crossing = await t.as(acmeAdmin, {
    method: 'POST',
    url: '/admin/caches/casebook/invalidate',
    payload: { tags: ['cases'], tenant: String(globexTenantId) },
  });
  assert.equal(crossing.statusCode, 403, 'a tenant admin cannot name another tenant');
  assert.equal(crossing.json().code, 'HR_FORBIDDEN');
  const before = await stats();
  await t.as(acme, { url: `/v1/cases/${caseId}` });
  const invalidated = await t.as(acmeAdmin, {
    method: 'POST',
    url: '/admin/caches/casebook/invalidate',
    payload: { tags: [`case:${caseId}`] },
  });
  assert.equal(invalidated.statusCode, 200, invalidated.body);
  await t.as(acme, { url: `/v1/cases/${caseId}` });
  assert.equal(
    (await stats()).loads.total - before.loads.total,
    1,
    'reloaded after the admin invalidated it',
  );

  const bad = await t.as(acmeAdmin, {
    method: 'POST',
    url: '/admin/caches/casebook/invalidate',
    payload: { tags: [] },
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'HR_VALIDATION');
  const metrics = (await t.operator({ url: '/metrics' })).body;
  assert.match(metrics, /headroom_cache_requests_total\{cache="casebook",tier="l1",result="hit"\} \d+/);
  assert.match(metrics, /headroom_cache_loads_total\{cache="casebook",kind="load",outcome="ok"\} \d+/);
});

test('with reads uncached (READ_CACHE=off, for baselines) every read goes to PostgreSQL and answers the same', async () => {
  const uncached = await startTestApp({ deps: { readCache: false } });
  try {
    const token = await uncached.login('analyst@acme.test');
    const first = await uncached.as(token, { url: `/v1/cases/${caseId}` });
    const second = await uncached.as(token, { url: `/v1/cases/${caseId}` });
    assert.equal(first.statusCode, 200);
    assert.equal(second.headers.etag, first.headers.etag, 'the same strong ETag, computed each time');
    const caches = (await uncached.operator({ url: '/admin/caches' })).json().data;
    assert.equal(caches[0].loads.total, 0, 'nothing went through the cache');
  } finally {
    await uncached.close();
  }
});
