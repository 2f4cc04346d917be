// Each input that once made casebook answer 500, hold a request or cross a tenant, as a named regression.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../src/app.ts';
import { encodeCursor } from '../src/http/cursor.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';

let t: TestApp;
let acme: string;
let caseId: number;
before(async () => {
  t = await startTestApp();
  acme = await t.login('admin@acme.test');
  caseId = (await t.as(acme, { url: '/v1/cases/search?limit=1' })).json().data[0].id;
});
after(() => t.close());

const problem = 'application/problem+json; charset=utf-8';

async function counts() {
  const { rows } = await t.db.pool.query(
    `SELECT (SELECT count(*) FROM cases) AS cases, (SELECT sum(version) FROM cases) AS versions,
            (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM comments) AS comments,
            (SELECT count(*) FROM entities) AS entities`,
  );
  return rows[0] as Record<string, string>;
}

describe('cursors are decoded strictly', () => {
  const cursor = (at: unknown, id: unknown) => Buffer.from(JSON.stringify([at, id])).toString('base64url');
  const bad = [
    cursor('1', 5),
    cursor('Jan 1', 5),
    cursor('+275760-09-13T00:00:00Z', 5),
    cursor('-271821-04-20T00:00:00Z', 5),
    cursor('2026-02-30 00:00:00+00', 5),
    cursor('2026-05-01 12:00:00+00\u0000', 5),
    cursor('2026-05-01 12:00:00+00', 2 ** 31),
    cursor('2026-05-01 12:00:00+00', 2 ** 53),
    cursor('2026-05-01 12:00:00+00', 0),
    Buffer.from('["2026-05-01 12:00:00+00", 5]').toString('base64url'),
    Buffer.from('["2026-05-01 12:00:00+00",5,1]').toString('base64url'),
    `${encodeCursor({ at: '2026-05-01 12:00:00+00', id: 5 })}=`,
    '%00',
  ];
  for (const path of ['/v1/cases/search', '/v1/cases/:id/timeline', '/v1/cases/:id/comments']) {
    test(`${path}: a cursor PostgreSQL would reject, or that we never issued, is 400 HR_INVALID_CURSOR`, async () => {
      // events.id is a bigint: 2^31 is a valid id on the timeline, not elsewhere.
      const refused = path.endsWith('timeline')
        ? bad.filter((c) => c !== cursor('2026-05-01 12:00:00+00', 2 ** 31))
        : bad;
      for (const value of refused) {
        const url = `${path.replace(':id', String(caseId))}?cursor=${encodeURIComponent(value)}`;
        const res = await t.as(acme, { url });
        assert.equal(res.statusCode, 400, `${url} → ${res.body}`);
        assert.ok(['HR_INVALID_CURSOR', 'HR_VALIDATION'].includes(res.json().code), res.body);
        assert.equal(res.json().field, 'query.cursor');
      }
    });
  }

  test('a cursor we issued still pages, on search and on the timeline (bigint ids)', async () => {
    const first = (await t.as(acme, { url: '/v1/cases/search?limit=2' })).json();
    const next = await t.as(acme, { url: `/v1/cases/search?limit=2&cursor=${first.page.next_cursor}` });
    assert.equal(next.statusCode, 200);
    const timeline = (await t.as(acme, { url: `/v1/cases/${caseId}/timeline?limit=1` })).json();
    if (timeline.page.next_cursor) {
      const more = await t.as(acme, {
        url: `/v1/cases/${caseId}/timeline?limit=1&cursor=${timeline.page.next_cursor}`,
      });
      assert.equal(more.statusCode, 200);
    }
  });
});

test('NUL and unpaired surrogates in any text field, in q, in attribute names or values: 400 naming the field, nothing written', async () => {
  const before = await counts();
  const cases: [string, string, unknown, string][] = [
    ['POST', '/v1/cases', { title: 'a\u0000b' }, 'body.title'],
    ['POST', '/v1/cases', { title: 'ok', description: '\ud800' }, 'body.description'],
    ['PATCH', `/v1/cases/${caseId}`, { title: '\u0000' }, 'body.title'],
    ['POST', `/v1/cases/${caseId}/comments`, { body: 'x\u0000' }, 'body.body'],
    [
      'POST',
      '/v1/entities',
      { kind: 'person', name: 'n', attributes: { 'k\u0000': 'v' } },
      'body.attributes',
    ],
    [
      'POST',
      '/v1/entities',
      { kind: 'person', name: 'n', attributes: { k: 'v\u0000' } },
      'body.attributes.k',
    ],
    ['GET', '/v1/cases/search?q=%00', undefined, 'query.q'],
  ];
  for (const [method, url, payload, field] of cases) {
    const res = await t.as(acme, { method, url, ...(payload ? { payload } : {}) });
    assert.equal(res.statusCode, 400, `${method} ${url} → ${res.body}`);
    assert.equal(res.json().field, field);
  }
  assert.deepEqual(await counts(), before);
});

test('bodies are not coerced: title 123 and owner_id true are 400s; typed attributes stay typed', async () => {
  for (const [payload, field] of [
    [{ title: 123 }, 'body.title'],
    [{ title: 'x', owner_id: true }, 'body.owner_id'],
  ] as const) {
    const res = await t.as(acme, { method: 'POST', url: '/v1/cases', payload });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().field, field);
  }
  const entity = await t.as(acme, {
    method: 'POST',
    url: '/v1/entities',
    payload: { kind: 'person', name: 'Typed', attributes: { risk: 3, pep: false } },
  });
  assert.equal(entity.statusCode, 201);
  const stored = await t.as(acme, { url: `/v1/entities/${entity.json().id}` });
  assert.deepEqual(stored.json().attributes, { risk: 3, pep: false });
});

describe('If-Match is parsed per RFC 9110 and compared whole', () => {
  const patch = (headers: Record<string, string>) =>
    t.as(acme, { method: 'PATCH', url: `/v1/cases/${caseId}`, payload: { priority: 'high' }, headers });

  test('out-of-range, made-up or foreign tags are 412, never 500, and change nothing', async () => {
    const etag = String((await t.as(acme, { url: `/v1/cases/${caseId}` })).headers.etag);
    const version = etag.slice(1, etag.indexOf('-'));
    const before = await counts();
    for (const header of [
      '"2147483648-x"',
      '"99999999999999999999-AAAAAAAAAAAAAAAA"',
      `"${version}-AAAAAAAAAAAAAAAA"`,
      `"${version}-x"`,
      `W/${etag}`,
      `x${etag}`,
      'garbage',
    ]) {
      const res = await patch({ 'if-match': header });
      assert.equal(res.statusCode, 412, `${header} → ${res.body}`);
      assert.equal(res.json().code, 'HR_PRECONDITION_FAILED');
    }
    assert.deepEqual(await counts(), before);
  });

  test('the ETag of any representation the client read (each expand depth, a fields selection) passes', async () => {
    for (const query of [
      '',
      '?expand=owner',
      '?expand=owner.team',
      '?expand=owner.team.org',
      '?fields=title',
    ]) {
      const read = await t.as(acme, { url: `/v1/cases/${caseId}${query}` });
      const res = await patch({ 'if-match': `"nope", ${read.headers.etag}` });
      assert.equal(res.statusCode, 200, `${query} ${read.headers.etag} → ${res.body}`);
      assert.notEqual(res.headers.etag, read.headers.etag, 'a new version, a new tag');
    }
  });
});

test('ids beyond the integer column, or infinite, are 400 on every route, suggestions included', async () => {
  const paths = ['/v1/cases/:id', '/v1/cases/:id/suggestions', '/v1/cases/:id/timeline', '/v1/entities/:id'];
  for (const path of paths) {
    // 1e309 and Infinity: Ajv coerces them to Infinity and calls that an integer within the maximum.
    for (const id of ['2147483648', '1e309', 'Infinity']) {
      const res = await t.as(acme, { url: path.replace(':id', id) });
      assert.equal(res.statusCode, 400, `${path} ${id}`);
      assert.equal(res.json().field, 'params.id');
    }
  }
});

test('login with an unpaired surrogate in the email is a 400, not a 500', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: 'a\ud800@acme.test', password: 'x' },
  });
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.headers['content-type'], problem);
});

test('a wrong method on a known path is 405 with Allow; text/plain is 415', async () => {
  const wrong = await t.as(acme, { method: 'PUT', url: `/v1/cases/${caseId}` });
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.headers.allow, 'GET, HEAD, PATCH');
  const plain = await t.as(acme, {
    method: 'POST',
    url: '/v1/cases',
    payload: 'title=x',
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(plain.statusCode, 415);
  assert.equal(plain.json().code, 'HR_UNSUPPORTED_MEDIA_TYPE');
});

// Suggestions (policies on the fake clock) are checked in suggestions.test.ts.
test('caller-dependent answers are private or no-store, errors and health included', async () => {
  const expectations: [string, string | undefined, RegExp][] = [
    ['/v1/me', acme, /^no-store$/],
    [`/v1/cases/${caseId}`, acme, /^private, no-cache$/],
    ['/v1/cases/2147483647', acme, /^no-store$/],
    ['/v1/cases/search', undefined, /^no-store$/],
    ['/health', undefined, /^no-store$/],
    ['/health/ready', undefined, /^no-store$/],
    ['/health/live', undefined, /^no-store$/],
  ];
  for (const [url, token, control] of expectations) {
    const res = token ? await t.as(token, { url }) : await t.app.inject({ url });
    assert.match(String(res.headers['cache-control']), control, url);
  }
  const login = await t.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
  });
  assert.equal(login.headers['cache-control'], 'no-store');
  const detail = await t.as(acme, { url: `/v1/cases/${caseId}` });
  assert.match(String(detail.headers.vary), /authorization/);
});

test('/metrics needs the operator token; a tenant admin’s bearer token is not it', async () => {
  assert.equal((await t.app.inject({ url: '/metrics' })).statusCode, 401);
  assert.equal((await t.as(acme, { url: '/metrics' })).statusCode, 401);
  const res = await t.operator({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /http_requests_total/);
});

test('ready means ready: 503 (and /v1 503 with Retry-After) until start-up work is done', async () => {
  const db = await createTestDatabase();
  let finish!: () => void;
  const startup = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const app = await buildApp({ pool: db.pool, startup });
  try {
    const ready = await app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().checks['startup:status'][0].status, 'fail');
    const login = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
    });
    assert.equal(login.statusCode, 503, 'answered at once, not held on tables being loaded');
    assert.equal(login.json().code, 'HR_NOT_READY');
    assert.equal(login.headers['retry-after'], '5');
    assert.equal((await app.inject({ url: '/health/live' })).statusCode, 200);
    finish();
    await startup;
    assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
  } finally {
    await app.close();
    await db.close();
  }
});

test('readiness never shows the driver’s message (hosts, ports, database names)', async () => {
  const db = await createTestDatabase();
  const app = await buildApp({ pool: db.pool });
  try {
    assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
    await db.drop();
    for (const url of ['/health/ready', '/health']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().checks['database:responseTime'][0].output, 'database unreachable');
      assert.doesNotMatch(res.body, /127\.0\.0\.1|t_[0-9a-f]{12}|ECONNREFUSED|does not exist/);
    }
  } finally {
    await app.close();
    await db.close();
  }
});
