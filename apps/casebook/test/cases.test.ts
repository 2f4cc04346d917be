import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acme: string;
let globex: string;
let initech: string;
let tenantIds: Record<string, number>;

before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  globex = await t.login('analyst@globex.test');
  initech = await t.login('analyst@initech.test');
  const { rows } = await t.db.pool.query<{ slug: string; id: number }>('SELECT slug, id FROM tenants');
  tenantIds = Object.fromEntries(rows.map((r) => [r.slug, r.id]));
});
after(() => t.close());

async function aCaseOf(slug: string): Promise<{ id: number; owner_id: number }> {
  const { rows } = await t.db.pool.query(
    'SELECT id, owner_id FROM cases WHERE tenant_id = $1 AND owner_id IS NOT NULL ORDER BY id LIMIT 1',
    [tenantIds[slug]],
  );
  return rows[0];
}

describe('search', () => {
  test('full-text search finds only the tenant’s matching cases, newest first', async () => {
    const res = await t.as(acme, { url: '/v1/cases/search?q=fraud&limit=50' });
    assert.equal(res.statusCode, 200);
    const { data, page } = res.json();
    assert.ok(data.length > 0, 'the demo data has fraud cases');
    const ids = data.map((c: { id: number }) => c.id);
    const { rows } = await t.db.pool.query(
      `SELECT id FROM cases WHERE id = ANY($1) AND tenant_id = $2 AND (title || ' ' || description) ILIKE '%fraud%'`,
      [ids, tenantIds.acme],
    );
    assert.equal(rows.length, ids.length, 'every hit is acme’s and mentions fraud');
    const times = data.map((c: { created_at: string }) => Date.parse(c.created_at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
    assert.equal(page.limit, 50);
  });

  test('cursor pagination walks every match exactly once', async () => {
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM cases WHERE tenant_id = $1 AND status = 'open'",
      [tenantIds.acme],
    );
    const seen = new Set<number>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/cases/search?status=open&limit=7${cursor ? `&cursor=${cursor}` : ''}`;
      const body = (await t.as(acme, { url })).json();
      for (const c of body.data) {
        assert.ok(!seen.has(c.id), `case ${c.id} shown twice`);
        assert.equal(c.status, 'open');
        seen.add(c.id);
      }
      cursor = body.page.next_cursor;
      pages++;
    } while (cursor && pages < 1000);
    assert.equal(seen.size, rows[0].n);
  });

  test('limit is capped by the tenant’s tier', async () => {
    const free = (await t.as(initech, { url: '/v1/cases/search?limit=100' })).json();
    assert.equal(free.page.limit, 20);
    assert.ok(free.data.length <= 20);
    const pro = (await t.as(globex, { url: '/v1/cases/search?limit=100' })).json();
    assert.equal(pro.page.limit, 50);
    const enterprise = (await t.as(acme, { url: '/v1/cases/search?limit=100' })).json();
    assert.equal(enterprise.page.limit, 100);
  });

  test('a malformed cursor or limit is a 400 naming the field', async () => {
    const cursor = await t.as(acme, { url: '/v1/cases/search?cursor=not-a-cursor' });
    assert.equal(cursor.statusCode, 400);
    assert.equal(cursor.json().code, 'HR_INVALID_CURSOR');
    assert.equal(cursor.json().field, 'query.cursor');
    const limit = await t.as(acme, { url: '/v1/cases/search?limit=1000' });
    assert.equal(limit.statusCode, 400);
    assert.equal(limit.json().field, 'query.limit');
  });
});

describe('detail', () => {
  test('expand reaches owner → team → org, one level per path segment', async () => {
    const { id } = await aCaseOf('acme');
    const flat = (await t.as(acme, { url: `/v1/cases/${id}` })).json();
    assert.equal(flat.id, id);
    assert.equal(flat.owner, undefined);
    const d1 = (await t.as(acme, { url: `/v1/cases/${id}?expand=owner` })).json();
    assert.equal(d1.owner.id, flat.owner_id);
    assert.equal(d1.owner.team, undefined);
    const d2 = (await t.as(acme, { url: `/v1/cases/${id}?expand=owner.team` })).json();
    assert.equal(d2.owner.team.id, d2.owner.team_id);
    assert.equal(d2.owner.team.org, undefined);
    const d3 = (await t.as(acme, { url: `/v1/cases/${id}?expand=owner,owner.team.org` })).json();
    assert.equal(d3.owner.team.org.id, d3.owner.team.org_id);
    assert.equal(typeof d3.owner.team.org.name, 'string');
  });

  test('fields narrows the representation; id and stale always stay', async () => {
    const { id } = await aCaseOf('acme');
    const res = await t.as(acme, { url: `/v1/cases/${id}?fields=title,status` });
    assert.deepEqual(Object.keys(res.json()).sort(), ['id', 'stale', 'status', 'title']);
    const bad = await t.as(acme, { url: `/v1/cases/${id}?fields=title,password_hash` });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'query.fields');
    const badExpand = await t.as(acme, { url: `/v1/cases/${id}?expand=owner.password` });
    assert.equal(badExpand.statusCode, 400);
    assert.equal(badExpand.json().field, 'query.expand');
  });

  test('another tenant’s case is a 404, the same as a missing one', async () => {
    const { id } = await aCaseOf('globex');
    const cross = await t.as(acme, { url: `/v1/cases/${id}` });
    const missing = await t.as(acme, { url: '/v1/cases/2147483647' });
    assert.equal(cross.statusCode, 404);
    assert.equal(missing.statusCode, 404);
    assert.equal(cross.json().code, 'HR_NOT_FOUND');
    assert.equal(cross.json().title, missing.json().title);
  });

  test('the ETag is strong and differs between representations', async () => {
    const { id } = await aCaseOf('acme');
    const a = await t.as(acme, { url: `/v1/cases/${id}` });
    const b = await t.as(acme, { url: `/v1/cases/${id}?expand=owner` });
    assert.match(String(a.headers.etag), /^"\d+-[A-Za-z0-9_-]{16}"$/);
    assert.notEqual(a.headers.etag, b.headers.etag);
    assert.equal((await t.as(acme, { url: `/v1/cases/${id}` })).headers.etag, a.headers.etag, 'stable');
  });
});

describe('create and update', () => {
  test('create → 201 with Location and ETag; the case is searchable and has a timeline event', async () => {
    const res = await t.as(acme, {
      method: 'POST',
      url: '/v1/cases',
      payload: { title: 'Zebracorn invoice fraud ring', description: 'Duplicate invoices', priority: 'high' },
    });
    assert.equal(res.statusCode, 201);
    const created = res.json();
    assert.equal(res.headers.location, `/v1/cases/${created.id}`);
    assert.ok(res.headers.etag);
    assert.equal(created.status, 'open');
    assert.equal(created.created_at, new Date(t.clock.now()).toISOString());
    const found = (await t.as(acme, { url: '/v1/cases/search?q=zebracorn' })).json();
    assert.deepEqual(
      found.data.map((c: { id: number }) => c.id),
      [created.id],
    );
    assert.equal((await t.as(globex, { url: '/v1/cases/search?q=zebracorn' })).json().data.length, 0);
    const timeline = (await t.as(acme, { url: `/v1/cases/${created.id}/timeline` })).json();
    assert.equal(timeline.data[0].kind, 'case_created');
  });

  test('PATCH with the current ETag succeeds; a stale or weak one gets 412; * and none pass', async () => {
    const { id } = await aCaseOf('acme');
    const etag = String((await t.as(acme, { url: `/v1/cases/${id}?expand=owner` })).headers.etag);
    const ok = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${id}`,
      payload: { status: 'escalated' },
      headers: { 'if-match': etag },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().status, 'escalated');
    assert.equal(ok.json().version, Number(etag.slice(1).split('-')[0]) + 1);
    assert.notEqual(ok.headers.etag, etag);

    const stale = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${id}`,
      payload: { status: 'open' },
      headers: { 'if-match': etag },
    });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().code, 'HR_PRECONDITION_FAILED');
    const weak = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${id}`,
      payload: { status: 'open' },
      headers: { 'if-match': `W/${ok.headers.etag}` },
    });
    assert.equal(weak.statusCode, 412);
    const list = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${id}`,
      payload: { status: 'open' },
      headers: { 'if-match': `"0-x", ${ok.headers.etag}` },
    });
    assert.equal(list.statusCode, 200);
    const star = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${id}`,
      payload: { priority: 'low' },
      headers: { 'if-match': '*' },
    });
    assert.equal(star.statusCode, 200);
    const none = await t.as(acme, { method: 'PATCH', url: `/v1/cases/${id}`, payload: { priority: 'high' } });
    assert.equal(none.statusCode, 200);
    const current = (await t.as(acme, { url: `/v1/cases/${id}` })).json();
    assert.equal(current.priority, 'high');
    assert.equal(current.updated_at, new Date(t.clock.now()).toISOString());
  });

  test('an owner from another tenant is a 422 naming the field; nothing is written', async () => {
    const { id, owner_id: globexOwner } = await aCaseOf('globex');
    const { id: acmeCase } = await aCaseOf('acme');
    const before = (await t.as(acme, { url: `/v1/cases/${acmeCase}` })).json();
    const res = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${acmeCase}`,
      payload: { owner_id: globexOwner },
    });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().code, 'HR_INVALID_REFERENCE');
    assert.equal(res.json().field, 'body.owner_id');
    assert.deepEqual((await t.as(acme, { url: `/v1/cases/${acmeCase}` })).json(), before);
    const create = await t.as(acme, {
      method: 'POST',
      url: '/v1/cases',
      payload: { title: 'x', owner_id: globexOwner },
    });
    assert.equal(create.statusCode, 422);
    const crossPatch = await t.as(acme, {
      method: 'PATCH',
      url: `/v1/cases/${id}`,
      payload: { status: 'closed' },
    });
    assert.equal(crossPatch.statusCode, 404);
  });

  test('unknown body fields and empty patches are 400s', async () => {
    const { id } = await aCaseOf('acme');
    const unknown = await t.as(acme, { method: 'PATCH', url: `/v1/cases/${id}`, payload: { tenant_id: 2 } });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().field, 'body.tenant_id');
    const empty = await t.as(acme, { method: 'PATCH', url: `/v1/cases/${id}`, payload: {} });
    assert.equal(empty.statusCode, 400);
    const missing = await t.as(acme, {
      method: 'POST',
      url: '/v1/cases',
      payload: { description: 'no title' },
    });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().field, 'body.title');
  });
});

describe('HTTP caching', () => {
  test('detail answers 304 to its own ETag, with validators and no body; private and Vary', async () => {
    const { id } = await aCaseOf('acme');
    const first = await t.as(acme, { url: `/v1/cases/${id}` });
    assert.equal(first.headers['cache-control'], 'private, no-cache');
    assert.equal(first.headers.vary, 'x-tenant-id, authorization');
    const again = await t.as(acme, {
      url: `/v1/cases/${id}`,
      headers: { 'if-none-match': String(first.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers.etag, first.headers.etag);
  });

  test('a write changes the ETag, so the old one no longer gets a 304', async () => {
    const { id } = await aCaseOf('acme');
    const before = String((await t.as(acme, { url: `/v1/cases/${id}` })).headers.etag);
    await t.as(acme, { method: 'PATCH', url: `/v1/cases/${id}`, payload: { priority: 'critical' } });
    const after = await t.as(acme, { url: `/v1/cases/${id}`, headers: { 'if-none-match': before } });
    assert.equal(after.statusCode, 200);
    assert.equal(after.json().priority, 'critical');
  });

  test('replaying another tenant’s ETag reveals nothing: 404, not 304', async () => {
    const { id } = await aCaseOf('globex');
    const theirs = await t.as(globex, { url: `/v1/cases/${id}` });
    assert.equal(theirs.statusCode, 200);
    const replay = await t.as(acme, {
      url: `/v1/cases/${id}`,
      headers: { 'if-none-match': String(theirs.headers.etag) },
    });
    assert.equal(replay.statusCode, 404);
    const star = await t.as(acme, { url: `/v1/cases/${id}`, headers: { 'if-none-match': '*' } });
    assert.equal(star.statusCode, 404, 'If-None-Match: * must not confirm that another tenant’s case exists');
    const searchEtag = String((await t.as(globex, { url: '/v1/cases/search?q=fraud' })).headers.etag);
    const searchReplay = await t.as(acme, {
      url: '/v1/cases/search?q=fraud',
      headers: { 'if-none-match': searchEtag },
    });
    assert.equal(searchReplay.statusCode, 200, 'acme’s search has other bytes, so another tag');
  });
});
