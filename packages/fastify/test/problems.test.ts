// Every failure a route can meet becomes an RFC 9457 problem with a stable HR_* code.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeadroomError } from '@headroom/core/errors';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { headroom, requestIdOptions } from '../src/index.ts';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  err?: { message: string };
}

async function buildApp() {
  const logs: LogLine[] = [];
  const stream = { write: (line: string) => void logs.push(JSON.parse(line)) };
  const app = Fastify({
    logger: { level: 'debug', stream },
    bodyLimit: 1024,
    // As casebook does: unknown properties are rejected, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    ...requestIdOptions(),
  });
  await app.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false });
  app.get(
    '/v1/cases',
    { schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', maximum: 100 } } } } },
    async () => ({ data: [] }),
  );
  app.post(
    '/v1/cases',
    {
      schema: {
        body: {
          type: 'object',
          required: ['title'],
          additionalProperties: false,
          properties: {
            title: { type: 'string' },
            owner: { type: 'object', properties: { id: { type: 'integer' } } },
          },
        },
      },
    },
    async (request) => request.body,
  );
  app.get(
    '/v1/cases/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } } },
    async (request) => {
      const { id } = request.params as { id: number };
      throw new HeadroomError('HR_NOT_FOUND', `case ${id} not found`, {
        status: 404,
        context: { field: 'params.id' },
        headers: { 'cache-control': 'no-store' },
      });
    },
  );
  app.get('/boom', async () => {
    throw new Error('password=hunter2 leaked from the database driver');
  });
  return { app, logs };
}

const problemKeys = ['type', 'title', 'status', 'detail', 'code', 'instance', 'request_id'];

async function call(app: FastifyInstance, options: InjectOptions) {
  const res = await app.inject(options);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const body = res.json();
  for (const key of problemKeys) assert.ok(key in body, `problem has ${key}`);
  assert.equal(body.type, `urn:headroom:problem:${body.code}`);
  assert.equal(body.status, res.statusCode);
  assert.equal(body.request_id, res.headers['x-request-id']);
  return { res, body };
}

test('a querystring schema violation is a 400 naming query.limit', async () => {
  const { app } = await buildApp();
  const { res, body } = await call(app, { method: 'GET', url: '/v1/cases?limit=500' });
  assert.equal(res.statusCode, 400);
  assert.equal(body.code, 'HR_VALIDATION');
  assert.equal(body.instance, '/v1/cases');
  assert.match(body.detail, /^query\.limit must be <= 100/);
  assert.equal(body.field, 'query.limit');
  assert.deepEqual(body.errors, [{ field: 'query.limit', message: 'must be <= 100', keyword: 'maximum' }]);
});

test('a missing required body property names body.title', async () => {
  const { app } = await buildApp();
  const { body } = await call(app, { method: 'POST', url: '/v1/cases', payload: {} });
  assert.equal(body.code, 'HR_VALIDATION');
  assert.equal(body.detail, 'body.title is required');
  assert.equal(body.field, 'body.title');
  assert.deepEqual(body.errors, [{ field: 'body.title', message: 'is required', keyword: 'required' }]);
});

test('unknown properties, nested paths and params are named too', async () => {
  const { app } = await buildApp();
  const extra = await call(app, { method: 'POST', url: '/v1/cases', payload: { title: 't', colour: 'red' } });
  assert.equal(extra.body.errors[0].field, 'body.colour');
  assert.equal(extra.body.errors[0].keyword, 'additionalProperties');
  const nested = await call(app, {
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 't', owner: { id: 'x' } },
  });
  assert.equal(nested.body.errors[0].field, 'body.owner.id');
  const params = await call(app, { method: 'GET', url: '/v1/cases/abc' });
  assert.equal(params.res.statusCode, 400);
  assert.equal(params.body.field, 'params.id');
  assert.equal(params.body.errors[0].field, 'params.id');
});

test('malformed or empty JSON is 400 HR_MALFORMED_JSON', async () => {
  const { app } = await buildApp();
  const headers = { 'content-type': 'application/json' };
  const broken = await call(app, { method: 'POST', url: '/v1/cases', headers, payload: '{"title":' });
  assert.equal(broken.res.statusCode, 400);
  assert.equal(broken.body.code, 'HR_MALFORMED_JSON');
  const empty = await call(app, { method: 'POST', url: '/v1/cases', headers, payload: '' });
  assert.equal(empty.res.statusCode, 400);
  assert.equal(empty.body.code, 'HR_MALFORMED_JSON');
});

test('a body over bodyLimit is 413 and an unknown content type 415', async () => {
  const { app } = await buildApp();
  const big = await call(app, { method: 'POST', url: '/v1/cases', payload: { title: 'x'.repeat(2000) } });
  assert.equal(big.res.statusCode, 413);
  assert.equal(big.body.code, 'HR_BODY_TOO_LARGE');
  assert.match(big.body.detail, /1024 bytes/);
  const xml = await call(app, {
    method: 'POST',
    url: '/v1/cases',
    headers: { 'content-type': 'application/xml' },
    payload: '<case/>',
  });
  assert.equal(xml.res.statusCode, 415);
  assert.equal(xml.body.code, 'HR_UNSUPPORTED_MEDIA_TYPE');
});

test('a HeadroomError keeps its status, code, message, headers and context', async () => {
  const { app } = await buildApp();
  const { res, body } = await call(app, { method: 'GET', url: '/v1/cases/5?expand=owner' });
  assert.equal(res.statusCode, 404);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(body.code, 'HR_NOT_FOUND');
  assert.equal(body.title, 'Not Found');
  assert.equal(body.detail, 'case 5 not found');
  assert.equal(body.field, 'params.id');
  assert.equal(body.instance, '/v1/cases/5');
});

test('an unexpected error is a 500 HR_INTERNAL that says nothing of the cause, logged at error', async () => {
  const { app, logs } = await buildApp();
  const { res, body } = await call(app, { method: 'GET', url: '/boom' });
  assert.equal(res.statusCode, 500);
  assert.equal(body.code, 'HR_INTERNAL');
  assert.ok(!res.body.includes('hunter2'), 'the message must not leak');
  assert.ok(!res.body.includes('problems.test.ts'), 'no stack either');
  const logged = logs.find((line) => line.msg === 'request failed');
  assert.equal(logged?.level, 50);
  assert.match(logged?.err?.message ?? '', /hunter2/);
});

test('client errors are logged below error level', async () => {
  const { app, logs } = await buildApp();
  await app.inject({ method: 'GET', url: '/v1/cases?limit=500' });
  await app.inject({ method: 'GET', url: '/v1/cases/5' });
  const rejected = logs.filter((line) => line.msg === 'request rejected');
  assert.equal(rejected.length, 2);
  assert.ok(logs.every((line) => line.level < 50));
});

test('an unknown route is a 404 HR_ROUTE_NOT_FOUND naming method and path', async () => {
  const { app } = await buildApp();
  const { res, body } = await call(app, { method: 'DELETE', url: '/v2/nothing?x=1' });
  assert.equal(res.statusCode, 404);
  assert.equal(body.code, 'HR_ROUTE_NOT_FOUND');
  assert.equal(body.detail, 'no route for DELETE /v2/nothing');
  assert.equal(body.instance, '/v2/nothing');
});

test('URLs the router rejects before routing are problems too, with a request id', async () => {
  const { app } = await buildApp();
  const badEncoding = await call(app, {
    method: 'GET',
    url: '/v1/cases/%FF',
    headers: { 'x-request-id': 'r-1' },
  });
  assert.equal(badEncoding.res.statusCode, 400);
  assert.equal(badEncoding.body.code, 'HR_BAD_REQUEST');
  assert.equal(badEncoding.body.request_id, 'r-1');
  const longParam = await call(app, { method: 'GET', url: `/v1/cases/${'9'.repeat(200)}` });
  assert.equal(longParam.res.statusCode, 414);
  assert.equal(longParam.body.code, 'HR_URI_TOO_LONG');
  assert.equal(longParam.body.detail, 'a path parameter is longer than the router accepts');
});

test('a known path with another method is a 405 HR_METHOD_NOT_ALLOWED with Allow', async () => {
  const { app } = await buildApp();
  app.delete('/v1/things/:id', async () => ({}));
  for (const [method, url, allow] of [
    ['PUT', '/v1/cases', 'GET, HEAD, POST'],
    ['DELETE', '/v1/cases?limit=1', 'GET, HEAD, POST'],
    ['GET', '/v1/things/7', 'DELETE'],
  ] as const) {
    const res = await app.inject({ method, url });
    assert.equal(res.statusCode, 405, `${method} ${url}`);
    assert.equal(res.headers.allow, allow);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.json().code, 'HR_METHOD_NOT_ALLOWED');
  }
  assert.equal((await app.inject({ method: 'PUT', url: '/v1/nothing' })).statusCode, 404);
});

test('every answer is no-store unless its route says how it may be cached; problems always are', async () => {
  const { app } = await buildApp();
  for (const url of ['/v1/cases', '/v1/cases?limit=1000', '/health', '/health/live', '/metrics', '/nope']) {
    const res = await app.inject({ url });
    assert.equal(res.headers['cache-control'], 'no-store', url);
    assert.equal(
      res.headers.vary,
      'authorization',
      `${url}: a cache that ignores no-store still keys by caller`,
    );
  }
});
