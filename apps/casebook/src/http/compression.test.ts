import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { codedEtag, registerCompression } from './compression.ts';

const big = JSON.stringify({ data: Array.from({ length: 3000 }, (_, i) => ({ id: i, title: `case ${i}` })) });

async function app() {
  const fastify = Fastify();
  await registerCompression(fastify);
  fastify.get('/ok', async (_request, reply) =>
    reply.header('etag', '"1-AbCdEfGhIjKlMnOp"').type('application/json; charset=utf-8').send(big),
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
