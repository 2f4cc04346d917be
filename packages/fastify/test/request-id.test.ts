// Request ids: a well-formed x-request-id is kept, anything else replaced, and every answer carries one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { headroom, requestIdOptions } from '../src/index.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function buildApp() {
  const logs: Record<string, unknown>[] = [];
  const stream = { write: (line: string) => void logs.push(JSON.parse(line)) };
  const app = Fastify({ logger: { level: 'info', stream }, ...requestIdOptions() });
  await app.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false });
  app.get('/echo', async (request) => ({ id: request.id }));
  app.get('/boom', async () => {
    throw new Error('boom');
  });
  return { app, logs };
}

test('a well-formed incoming x-request-id is kept and echoed', async () => {
  const { app } = await buildApp();
  const id = 'edge-01:7f3a.b_c-9';
  const res = await app.inject({ method: 'GET', url: '/echo', headers: { 'x-request-id': id } });
  assert.equal(res.headers['x-request-id'], id);
  assert.equal(res.json().id, id);
});

test('an ill-formed x-request-id is replaced by a UUID', async () => {
  const { app } = await buildApp();
  for (const bad of ['two words', 'x'.repeat(500), 'a\u00e9b', '']) {
    const res = await app.inject({ method: 'GET', url: '/echo', headers: { 'x-request-id': bad } });
    assert.match(String(res.headers['x-request-id']), uuid, `replaces ${JSON.stringify(bad.slice(0, 20))}`);
    assert.equal(res.json().id, res.headers['x-request-id']);
  }
  const longest = 'x'.repeat(128);
  const kept = await app.inject({ method: 'GET', url: '/echo', headers: { 'x-request-id': longest } });
  assert.equal(kept.headers['x-request-id'], longest, '128 characters is still allowed');
});

test('a request without x-request-id gets a fresh UUID each time', async () => {
  const { app } = await buildApp();
  const a = await app.inject({ method: 'GET', url: '/echo' });
  const b = await app.inject({ method: 'GET', url: '/echo' });
  assert.match(String(a.headers['x-request-id']), uuid);
  assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
});

test('errors and unknown routes carry the id in the header and the problem body', async () => {
  const { app } = await buildApp();
  for (const url of ['/boom', '/nowhere']) {
    const res = await app.inject({ method: 'GET', url, headers: { 'x-request-id': 'trace-42' } });
    assert.equal(res.headers['x-request-id'], 'trace-42');
    assert.equal(res.json().request_id, 'trace-42');
  }
});

test('log lines carry the id as request_id', async () => {
  const { app, logs } = await buildApp();
  await app.inject({ method: 'GET', url: '/echo', headers: { 'x-request-id': 'trace-43' } });
  const lines = logs.filter((line) => line.request_id === 'trace-43');
  assert.ok(lines.length >= 2, 'incoming request and request completed');
  assert.ok(logs.every((line) => !('reqId' in line)));
});

test('the server options do not use the deprecated requestIdLogLabel', () => {
  const options = requestIdOptions();
  assert.equal(options.requestIdHeader, false, 'a named header would bypass genReqId');
  assert.ok(!('requestIdLogLabel' in options));
  assert.equal(typeof options.frameworkErrors, 'function');
  assert.notEqual(requestIdOptions().logController, options.logController, 'nothing shared between apps');
});

test('a request logger is made on its first write: below the level nothing is made, at the level the line carries the id', async () => {
  const logs: Record<string, unknown>[] = [];
  const stream = { write: (line: string) => void logs.push(JSON.parse(line)) };
  const app = Fastify({ logger: { level: 'warn', stream }, ...requestIdOptions() });
  let children = 0;
  const child = app.log.child.bind(app.log);
  app.log.child = (...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  };
  app.get('/quiet', async (request) => {
    request.log.info('not written at warn');
    return { ok: true };
  });
  app.get('/loud', async (request) => {
    request.log.warn({ detail: 1 }, 'written');
    request.log.warn('again, same child');
    return { ok: true };
  });
  await app.inject({ url: '/quiet', headers: { 'x-request-id': 'q-1' } });
  assert.equal(children, 0, 'no child logger for a request that writes nothing');
  await app.inject({ url: '/loud', headers: { 'x-request-id': 'l-1' } });
  assert.equal(children, 1);
  assert.deepEqual(
    logs.map((l) => [l.msg, l.request_id, l.detail]),
    [
      ['written', 'l-1', 1],
      ['again, same child', 'l-1', undefined],
    ],
  );
});
