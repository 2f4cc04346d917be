// HTTP caching of routes with config.httpCache: headers, generated strong ETags, 304s that follow RFC 9110.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { headroom } from '../src/index.ts';

async function app() {
  const instance = Fastify();
  await instance.register(headroom, { service: 'svc', version: '1.0.0', defaultMetrics: false });
  instance.get(
    '/tenant-data',
    { config: { httpCache: { scope: 'private', tenantScoped: true, vary: ['x-tenant-id'] } } },
    async () => ({ n: 1 }),
  );
  instance.get('/with-etag', { config: { httpCache: { scope: 'private' } } }, async (_request, reply) =>
    reply.header('etag', '"7-abc"').send({ n: 7 }),
  );
  instance.get(
    '/public',
    {
      config: {
        httpCache: { scope: 'public', maxAge: 60, sMaxAge: 300, staleWhileRevalidate: 30, staleIfError: 600 },
      },
    },
    async () => ({ p: 1 }),
  );
  // A body sent already encoded (kept compressed beside a cache entry, say), under the tag of that coding.
  instance.get('/encoded', { config: { httpCache: { scope: 'private' } } }, async (_request, reply) =>
    reply.header('etag', '"8-abc-gzip"').header('content-encoding', 'gzip').send(gzipSync('{"n":8}')),
  );
  instance.post('/tenant-data', { config: { httpCache: { scope: 'private' } } }, async () => ({ n: 1 }));
  instance.get('/plain', async () => ({ plain: true }));
  await instance.ready();
  return instance;
}

test('a private route gets Cache-Control, Vary with authorization, and a strong ETag of its bytes', async () => {
  const a = await app();
  const res = await a.inject({ url: '/tenant-data' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['cache-control'], 'private, no-cache');
  assert.equal(res.headers.vary, 'x-tenant-id, authorization');
  assert.match(String(res.headers.etag), /^"[A-Za-z0-9_-]{22}"$/);
  assert.equal(
    (await a.inject({ url: '/tenant-data' })).headers.etag,
    res.headers.etag,
    'same bytes, same tag',
  );
  assert.equal(
    (await a.inject({ url: '/plain' })).headers.etag,
    undefined,
    'routes without httpCache are untouched',
  );
  await a.close();
});

test('If-None-Match that matches (exactly, in a list, weakly, or *) → 304 with validators and no body', async () => {
  const a = await app();
  const etag = String((await a.inject({ url: '/tenant-data' })).headers.etag);
  for (const header of [etag, `"nope", ${etag}`, `W/${etag}`, '*']) {
    const res = await a.inject({ url: '/tenant-data', headers: { 'if-none-match': header } });
    assert.equal(res.statusCode, 304, header);
    assert.equal(res.body, '');
    assert.equal(res.headers.etag, etag);
    assert.equal(res.headers['cache-control'], 'private, no-cache');
    assert.equal(res.headers.vary, 'x-tenant-id, authorization');
    assert.equal(res.headers['content-type'], undefined);
  }
  assert.equal(
    (await a.inject({ url: '/tenant-data', headers: { 'if-none-match': '"other"' } })).statusCode,
    200,
  );
  await a.close();
});

test('a 304 for a body sent encoded carries no Content-Encoding: it sends no body to decode', async () => {
  const a = await app();
  const full = await a.inject({ url: '/encoded' });
  assert.equal(full.headers['content-encoding'], 'gzip');
  const res = await a.inject({ url: '/encoded', headers: { 'if-none-match': '"8-abc-gzip"' } });
  assert.equal(res.statusCode, 304);
  assert.equal(res.headers.etag, '"8-abc-gzip"');
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.body, '');
  await a.close();
});

test('a route’s own ETag (e.g. stored with a cache entry) is kept, not re-hashed', async () => {
  const a = await app();
  const res = await a.inject({ url: '/with-etag' });
  assert.equal(res.headers.etag, '"7-abc"');
  assert.equal(
    (await a.inject({ url: '/with-etag', headers: { 'if-none-match': '"7-abc"' } })).statusCode,
    304,
  );
  await a.close();
});

test('only GET and HEAD are answered 304', async () => {
  const a = await app();
  const etag = String((await a.inject({ url: '/tenant-data' })).headers.etag);
  const post = await a.inject({ method: 'POST', url: '/tenant-data', headers: { 'if-none-match': etag } });
  assert.equal(post.statusCode, 200);
  assert.equal(post.headers['cache-control'], 'no-store', 'the plugin’s default: nothing may keep it');
  const head = await a.inject({ method: 'HEAD', url: '/tenant-data', headers: { 'if-none-match': etag } });
  assert.equal(head.statusCode, 304);
  await a.close();
});

test('public routes carry shared-cache directives; a tenant-scoped public route is refused at start-up', async () => {
  const a = await app();
  assert.equal(
    (await a.inject({ url: '/public' })).headers['cache-control'],
    'public, max-age=60, s-maxage=300, stale-while-revalidate=30, stale-if-error=600',
  );
  assert.equal(
    (await a.inject({ url: '/public' })).headers.vary,
    undefined,
    'the same bytes for all: no Vary',
  );
  await a.close();
  const bad = Fastify();
  await bad.register(headroom, { service: 'svc', version: '1.0.0', defaultMetrics: false });
  assert.throws(
    () => bad.get('/x', { config: { httpCache: { scope: 'public', tenantScoped: true } } }, async () => ({})),
    /tenant-scoped answer cannot be public/,
  );
});
