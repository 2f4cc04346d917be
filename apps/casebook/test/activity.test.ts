import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acme: string;
let globex: string;

before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  globex = await t.login('analyst@globex.test');
});
after(() => t.close());

async function busiestCase(slug: string): Promise<{ id: number; events: number }> {
  const { rows } = await t.db.pool.query(
    `SELECT e.case_id AS id, count(*)::int AS events FROM events e JOIN tenants t ON t.id = e.tenant_id
     WHERE t.slug = $1 GROUP BY e.case_id ORDER BY count(*) DESC, e.case_id LIMIT 1`,
    [slug],
  );
  return rows[0];
}

describe('timeline', () => {
  test('newest first, every event once across cursor pages', async () => {
    const { id, events } = await busiestCase('acme');
    assert.ok(events > 3, 'the test profile has cases with several events');
    const seen: { id: number; occurred_at: string }[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.as(acme, {
        url: `/v1/cases/${id}/timeline?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      });
      assert.equal(res.statusCode, 200);
      seen.push(...res.json().data);
      cursor = res.json().page.next_cursor;
    } while (cursor);
    assert.equal(seen.length, events);
    assert.equal(new Set(seen.map((e) => e.id)).size, events);
    const times = seen.map((e) => Date.parse(e.occurred_at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
  });

  test('a case with no events answers an empty page; another tenant’s case answers 404', async () => {
    const created = (
      await t.as(acme, { method: 'POST', url: '/v1/cases', payload: { title: 'quiet' } })
    ).json();
    await t.db.pool.query('DELETE FROM events WHERE case_id = $1', [created.id]);
    const empty = await t.as(acme, { url: `/v1/cases/${created.id}/timeline` });
    assert.equal(empty.statusCode, 200);
    assert.deepEqual(empty.json(), {
      version: 1,
      data: [],
      page: { next_cursor: null, limit: 20 },
      stale: false,
    });
    const cross = await t.as(globex, { url: `/v1/cases/${created.id}/timeline` });
    assert.equal(cross.statusCode, 404);
  });
});

describe('comments', () => {
  test('a posted comment is listed first and lands on the timeline', async () => {
    const { id } = await busiestCase('acme');
    t.clock.advance(60_000);
    const posted = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${id}/comments`,
      payload: { body: 'Checked the IBAN.' },
    });
    assert.equal(posted.statusCode, 201);
    const list = (await t.as(acme, { url: `/v1/cases/${id}/comments` })).json();
    assert.equal(list.data[0].body, 'Checked the IBAN.');
    const timeline = (await t.as(acme, { url: `/v1/cases/${id}/timeline?limit=1` })).json();
    assert.equal(timeline.data[0].kind, 'comment_added');
  });

  test('commenting on or reading another tenant’s case is a 404 and writes nothing', async () => {
    const { id } = await busiestCase('acme');
    const before = await t.db.pool.query('SELECT count(*)::int AS n FROM comments');
    const post = await t.as(globex, {
      method: 'POST',
      url: `/v1/cases/${id}/comments`,
      payload: { body: 'x' },
    });
    assert.equal(post.statusCode, 404);
    assert.equal((await t.as(globex, { url: `/v1/cases/${id}/comments` })).statusCode, 404);
    const afterCount = await t.db.pool.query('SELECT count(*)::int AS n FROM comments');
    assert.equal(afterCount.rows[0].n, before.rows[0].n);
  });
});

describe('entities', () => {
  test('create, read, link (idempotent), and the link shows on the timeline', async () => {
    const created = await t.as(acme, {
      method: 'POST',
      url: '/v1/entities',
      payload: { kind: 'account', name: 'DE89 3704 0044 0532 0130 00', attributes: { bank: 'Commerzbank' } },
    });
    assert.equal(created.statusCode, 201);
    const entity = created.json();
    assert.equal(created.headers.location, `/v1/entities/${entity.id}`);
    assert.deepEqual((await t.as(acme, { url: `/v1/entities/${entity.id}` })).json(), entity);

    const { id } = await busiestCase('acme');
    const first = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${id}/entities`,
      payload: { entity_id: entity.id, role: 'beneficiary' },
    });
    assert.equal(first.statusCode, 201);
    const again = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${id}/entities`,
      payload: { entity_id: entity.id, role: 'other' },
    });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().role, 'beneficiary', 'the existing link is kept');
    const timeline = (await t.as(acme, { url: `/v1/cases/${id}/timeline?limit=1` })).json();
    assert.equal(timeline.data[0].kind, 'entity_linked');
  });

  test('entities do not cross tenants: read → 404, link → 422 / 404', async () => {
    const theirs = (
      await t.as(globex, { method: 'POST', url: '/v1/entities', payload: { kind: 'person', name: 'Eve' } })
    ).json();
    assert.equal((await t.as(acme, { url: `/v1/entities/${theirs.id}` })).statusCode, 404);
    const { id: acmeCase } = await busiestCase('acme');
    const link = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${acmeCase}/entities`,
      payload: { entity_id: theirs.id },
    });
    assert.equal(link.statusCode, 422);
    assert.equal(link.json().field, 'body.entity_id');
    const mine = (
      await t.as(acme, { method: 'POST', url: '/v1/entities', payload: { kind: 'ip', name: '203.0.113.7' } })
    ).json();
    const { id: globexCase } = await busiestCase('globex');
    const intoTheirs = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${globexCase}/entities`,
      payload: { entity_id: mine.id },
    });
    assert.equal(intoTheirs.statusCode, 404);
  });
});
