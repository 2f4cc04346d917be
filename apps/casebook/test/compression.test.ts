// Compression of v1 answers (br, gzip from 1 KB) and the tags that go with it: each coding of a body has a
// strong tag of its own; a client revalidates with the tag it holds, and may PATCH with it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib, { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { operatorHeaders, startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acme: string;
let bigCase: number;
let busyCase: number;
before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  const { rows } = await t.db.pool.query<{ case_id: number }>(
    `SELECT e.case_id FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = 'acme'
     GROUP BY e.case_id ORDER BY count(*) DESC, e.case_id LIMIT 1`,
  );
  busyCase = rows[0]!.case_id;
  const created = await t.as(acme, {
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 'Compressed', description: 'wire transfer to a mule account; '.repeat(80) },
  });
  assert.equal(created.statusCode, 201);
  bigCase = created.json().id;
});
after(() => t.close());

const decode: Record<string, (bytes: Buffer) => Buffer> = {
  gzip: gunzipSync,
  br: brotliDecompressSync,
};

function varyNames(res: LightMyRequestResponse): string[] {
  return String(res.headers.vary ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}

const readable = () => [
  '/v1/cases/search?limit=20',
  `/v1/cases/${bigCase}`,
  `/v1/cases/${bigCase}?fields=title,description`,
  `/v1/cases/${busyCase}/timeline`,
];

describe('a client that asks gets br or gzip; the body decodes to the identity bytes', () => {
  for (const [coding, header] of [
    ['gzip', 'gzip'],
    ['br', 'gzip, deflate, br'],
    ['gzip', 'br;q=0, gzip'],
  ] as const) {
    test(`Accept-Encoding: ${header} → ${coding}`, async () => {
      for (const url of readable()) {
        const plain = await t.as(acme, { url });
        assert.equal(plain.headers['content-encoding'], undefined, url);
        assert.ok(plain.rawPayload.length >= 1024, `${url} is big enough to compress`);
        const encoded = await t.as(acme, { url, headers: { 'accept-encoding': header } });
        assert.equal(encoded.statusCode, 200, url);
        assert.equal(encoded.headers['content-encoding'], coding, url);
        assert.ok(encoded.rawPayload.length < plain.rawPayload.length, `${url}: smaller`);
        assert.deepEqual(decode[coding]!(encoded.rawPayload), plain.rawPayload, `${url}: the same bytes`);
        assert.equal(encoded.headers.etag, `${String(plain.headers.etag).slice(0, -1)}-${coding}"`, url);
        assert.equal(encoded.headers['cache-control'], plain.headers['cache-control'], url);
        for (const res of [plain, encoded]) {
          assert.deepEqual(varyNames(res).sort(), ['accept-encoding', 'authorization', 'x-tenant-id'], url);
        }
      }
    });
  }

  // A hit used to be compressed again on every request, though browsers always ask for br or gzip: the
  // cost of a hit in br is bench:cache-hit's row `casebook search, cache hit, br`.
  test('a cached page is compressed once per coding, not on every hit', async (context) => {
    const url = '/v1/cases/search?q=wire&limit=20';
    for (const [coding, method] of [
      ['br', 'brotliCompressSync'],
      ['gzip', 'gzipSync'],
    ] as const) {
      const compressions = context.mock.method(zlib, method);
      const answers = [];
      for (let i = 0; i < 5; i++)
        answers.push(await t.as(acme, { url, headers: { 'accept-encoding': coding } }));
      for (const res of answers) {
        assert.equal(res.headers['content-encoding'], coding);
        assert.deepEqual(res.rawPayload, answers[0]!.rawPayload);
      }
      assert.equal(compressions.mock.callCount(), 1, `${coding}: one compression for five answers`);
    }
  });

  test('no Accept-Encoding, identity, or only codings we do not send → the identity body and tag', async () => {
    const url = '/v1/cases/search?limit=20';
    const plain = await t.as(acme, { url });
    for (const header of ['identity', 'deflate', 'gzip;q=0, br;q=0', '']) {
      const res = await t.as(acme, { url, headers: { 'accept-encoding': header } });
      assert.equal(res.headers['content-encoding'], undefined, header);
      assert.equal(res.body, plain.body, header);
      assert.equal(res.headers.etag, plain.headers.etag, header);
    }
  });

  test('small bodies and problems stay identity, and do not vary by Accept-Encoding', async () => {
    const headers = { 'accept-encoding': 'br, gzip' };
    for (const url of [
      '/v1/me',
      '/v1/cases/search?limit=1',
      '/v1/cases/2147483647',
      '/v1/cases/search?limit=0',
    ]) {
      const res = await t.as(acme, { url, headers });
      assert.ok(res.rawPayload.length < 1024 || res.statusCode >= 400, url);
      assert.equal(res.headers['content-encoding'], undefined, `${url} → ${res.statusCode}`);
      assert.ok(!varyNames(res).includes('accept-encoding'), url);
      JSON.parse(res.body);
    }
    const unauthenticated = await t.app.inject({ url: '/v1/cases/search', headers });
    assert.equal(unauthenticated.statusCode, 401);
    assert.equal(unauthenticated.headers['content-encoding'], undefined);
  });

  test('the operations routes of @headroom/fastify are not compressed', async () => {
    for (const url of ['/metrics', '/health', '/admin/caches']) {
      const res = await t.app.inject({
        url,
        headers: { 'accept-encoding': 'gzip', ...operatorHeaders },
      });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-encoding'], undefined, url);
    }
  });

  // Fastify's HEAD route drops the body before the plugin would compress it: HEAD describes the identity
  // representation, consistently (its tag and Content-Length), and still says Vary: accept-encoding.
  test('HEAD describes the identity representation: its tag and length, with Vary', async () => {
    for (const url of readable()) {
      const plain = await t.as(acme, { url });
      const head = await t.as(acme, { method: 'HEAD', url, headers: { 'accept-encoding': 'gzip' } });
      assert.equal(head.statusCode, 200, url);
      assert.equal(head.headers.etag, plain.headers.etag, url);
      assert.equal(head.headers['content-encoding'], undefined, url);
      assert.equal(Number(head.headers['content-length']), plain.rawPayload.length, url);
      assert.ok(varyNames(head).includes('accept-encoding'), url);
      assert.equal(head.rawPayload.length, 0, url);
    }
  });

  test('writes are compressed too, with the coded tag of what they wrote', async () => {
    const res = await t.as(acme, {
      method: 'POST',
      url: '/v1/cases',
      payload: { title: 'Another', description: 'x'.repeat(2000) },
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['content-encoding'], 'gzip');
    const body = JSON.parse(gunzipSync(res.rawPayload).toString());
    assert.match(String(res.headers.etag), new RegExp(`^"${body.version}-[A-Za-z0-9_-]{16}-gzip"$`));
  });
});

describe('conditional requests with coded tags', () => {
  test('If-None-Match with the coded tag → 304 carrying that tag and the full Vary; its identity tag → 200 coded', async () => {
    for (const url of readable()) {
      const headers = { 'accept-encoding': 'gzip' };
      const first = await t.as(acme, { url, headers });
      const tag = String(first.headers.etag);
      assert.match(tag, /-gzip"$/, url);
      const again = await t.as(acme, { url, headers: { ...headers, 'if-none-match': tag } });
      assert.equal(again.statusCode, 304, url);
      assert.equal(again.headers.etag, tag, url);
      assert.equal(again.rawPayload.length, 0, url);
      assert.equal(again.headers['content-encoding'], undefined, url);
      assert.deepEqual(varyNames(again).sort(), ['accept-encoding', 'authorization', 'x-tenant-id'], url);
      // Weak comparison (RFC 9110 §13.1.2): W/ on the same tag matches too.
      const weak = await t.as(acme, { url, headers: { ...headers, 'if-none-match': `W/${tag}` } });
      assert.equal(weak.statusCode, 304, url);

      // Another coding, or none, is another representation: a full answer.
      const identityTag = tag.replace(/-gzip"$/, '"');
      const held = await t.as(acme, { url, headers: { ...headers, 'if-none-match': identityTag } });
      assert.equal(held.statusCode, 200, url);
      assert.equal(held.headers['content-encoding'], 'gzip', url);
      const plain = await t.as(acme, { url, headers: { 'if-none-match': tag } });
      assert.equal(plain.statusCode, 200, `${url}: no gzip asked, the gzip tag does not match`);
      const plainAgain = await t.as(acme, { url, headers: { 'if-none-match': identityTag } });
      assert.equal(plainAgain.statusCode, 304, url);
      assert.equal(plainAgain.headers.etag, identityTag, url);
    }
  });

  test('If-Match with a coded tag (br or gzip, with or without fields) updates; a stale one is 412', async () => {
    const url = `/v1/cases/${bigCase}`;
    const gz = await t.as(acme, { url, headers: { 'accept-encoding': 'gzip' } });
    const br = await t.as(acme, {
      url: `${url}?fields=title,description`,
      headers: { 'accept-encoding': 'br' },
    });
    assert.match(String(gz.headers.etag), /-gzip"$/);
    assert.match(String(br.headers.etag), /\.[0-9a-z]+-br"$/);
    const patched = await t.as(acme, {
      method: 'PATCH',
      url,
      payload: { priority: 'high' },
      headers: { 'if-match': String(gz.headers.etag), 'accept-encoding': 'br' },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.headers['content-encoding'], 'br');
    const next = String(patched.headers.etag);
    assert.match(next, /-br"$/);
    const stale = await t.as(acme, {
      method: 'PATCH',
      url,
      payload: { priority: 'low' },
      headers: { 'if-match': String(br.headers.etag) },
    });
    assert.equal(stale.statusCode, 412, 'the br tag names the version before the PATCH');
    const chained = await t.as(acme, {
      method: 'PATCH',
      url,
      payload: { priority: 'low' },
      headers: { 'if-match': next },
    });
    assert.equal(chained.statusCode, 200, 'the tag a compressed PATCH answered with is good for the next');
    const madeUp = await t.as(acme, {
      method: 'PATCH',
      url,
      payload: { priority: 'medium' },
      headers: { 'if-match': `${String(chained.headers.etag).slice(0, -1)}-zstd"` },
    });
    assert.equal(madeUp.statusCode, 412, 'a coding we never send is not one of our tags');
  });
});
