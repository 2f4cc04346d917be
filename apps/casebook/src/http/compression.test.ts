import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib, { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { codedEtag, keptCodingLimit, registerCompression, sendsKeptBytes } from './compression.ts';

const big = JSON.stringify({ data: Array.from({ length: 3000 }, (_, i) => ({ id: i, title: `case ${i}` })) });

const keptBody = Buffer.from(JSON.stringify({ data: Array.from({ length: 200 }, (_, i) => ({ id: i })) }));
const hugeBody = Buffer.from(JSON.stringify({ data: 'x'.repeat(keptCodingLimit) }));

async function app() {
  const fastify = Fastify();
  await registerCompression(fastify);
  fastify.get('/ok', async (_request, reply) =>
    reply.header('etag', '"1-AbCdEfGhIjKlMnOp"').type('application/json; charset=utf-8').send(big),
  );
  // The same Buffer every time, as a cache entry's bytes are; /kept says so, /once does not.
  fastify.get('/kept', async (_request, reply) =>
    sendsKeptBytes(reply).header('etag', '"2-kept"').type('application/json; charset=utf-8').send(keptBody),
  );
  fastify.get('/once', async (_request, reply) =>
    reply.header('etag', '"2-kept"').type('application/json; charset=utf-8').send(keptBody),
  );
  fastify.get('/huge', async (_request, reply) =>
    sendsKeptBytes(reply).type('application/json; charset=utf-8').send(hugeBody),
  );
  fastify.get('/problem', async (_request, reply) =>
    reply.code(400).type('application/problem+json; charset=utf-8').send(big),
  );
  fastify.get('/error', async (_request, reply) => reply.code(503).type('application/json').send(big));
  return fastify;
}

test('codedEtag marks a strong tag with its coding and leaves a weak one alone', () => {
  assert.equal(codedEtag('"1-AbCdEfGhIjKlMnOp"', 'gzip'), '"1-AbCdEfGhIjKlMnOp-gzip"');
  assert.equal(codedEtag('"x"', 'br'), '"x-br"');
  assert.equal(codedEtag('W/"x"', 'br'), 'W/"x"');
});

test('a large 2xx is compressed (stream path, over the sync threshold) under its coded tag', async () => {
  const fastify = await app();
  const res = await fastify.inject({ url: '/ok', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(res.headers.etag, '"1-AbCdEfGhIjKlMnOp-gzip"');
  assert.equal(gunzipSync(res.rawPayload).toString(), big);
  assert.equal(res.headers.vary, 'accept-encoding');
  await fastify.close();
});

test('problems and other errors are never compressed, whatever their size', async () => {
  const fastify = await app();
  for (const url of ['/problem', '/error']) {
    const res = await fastify.inject({ url, headers: { 'accept-encoding': 'br, gzip' } });
    assert.ok(res.statusCode >= 400);
    assert.equal(res.headers['content-encoding'], undefined, url);
    assert.equal(res.body, big, url);
    assert.equal(res.headers.vary, undefined, url);
  }
  await fastify.close();
});

test('the x-no-compression request header gets identity, and the identity tag', async () => {
  const fastify = await app();
  const res = await fastify.inject({
    url: '/ok',
    headers: { 'accept-encoding': 'gzip', 'x-no-compression': '1' },
  });
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.headers.etag, '"1-AbCdEfGhIjKlMnOp"');
  assert.equal(res.headers.vary, 'accept-encoding');
  await fastify.close();
});

test('kept bytes are compressed once per coding, into the bytes the plugin makes, under the same tag', async (t) => {
  // Counted from before the plugin is registered: it takes its compressor from zlib then.
  const br = t.mock.method(zlib, 'brotliCompressSync');
  const gzip = t.mock.method(zlib, 'gzipSync');
  const fastify = await app();
  for (const [coding, decode, calls] of [
    ['br', brotliDecompressSync, br],
    ['gzip', gunzipSync, gzip],
  ] as const) {
    const once = await fastify.inject({ url: '/once', headers: { 'accept-encoding': coding } });
    assert.equal(calls.mock.callCount(), 1, `${coding}: the plugin compressed /once`);
    for (let i = 0; i < 5; i++) {
      const res = await fastify.inject({ url: '/kept', headers: { 'accept-encoding': coding } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers.etag, `"2-kept-${coding}"`);
      assert.equal(res.headers.vary, 'accept-encoding');
      assert.equal(Number(res.headers['content-length']), res.rawPayload.length);
      assert.deepEqual(res.rawPayload, once.rawPayload, `${coding}: one tag, the same bytes`);
      assert.deepEqual(decode(res.rawPayload), keptBody);
    }
    assert.equal(calls.mock.callCount(), 2, `${coding}: five answers of /kept, one compression`);
  }
  const plain = await fastify.inject({ url: '/kept' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.deepEqual(plain.rawPayload, keptBody);
  await fastify.close();
});

test('kept bytes from keptCodingLimit up are the plugin’s to compress, on each request', async (t) => {
  const fastify = await app();
  // Counted from after the plugin is registered: only a kept coding would call it.
  const gzip = t.mock.method(zlib, 'gzipSync');
  for (let i = 0; i < 2; i++) {
    const res = await fastify.inject({ url: '/huge', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(res.rawPayload), hugeBody);
  }
  assert.equal(gzip.mock.callCount(), 0);
  await fastify.close();
});
