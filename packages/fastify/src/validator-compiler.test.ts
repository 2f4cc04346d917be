import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { headroom } from './plugin.ts';
import { validatorCompiler } from './validator-compiler.ts';

async function app(options: Parameters<typeof validatorCompiler>[0] = {}) {
  const instance = Fastify();
  instance.setValidatorCompiler(validatorCompiler(options));
  await instance.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false });
  const body = {
    type: 'object',
    properties: {
      title: { type: 'string', maxLength: 20 },
      owner_id: { type: ['integer', 'null'] },
      attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
      tags: { type: 'array', items: { type: 'string' } },
    },
    additionalProperties: false,
  };
  const querystring = {
    type: 'object',
    properties: {
      limit: { type: 'integer' },
      q: { type: 'string' },
      ids: { type: 'array', items: { type: 'integer' } },
    },
    additionalProperties: false,
  };
  instance.post('/things', { schema: { body, querystring } }, async (request) => ({
    body: request.body,
    query: request.query,
  }));
  return instance;
}

const post = (payload: object, url = '/things') => ({ method: 'POST' as const, url, payload });

test('a body keeps its JSON types: a wrong type is a 400 naming the field, never coerced', async () => {
  const a = await app();
  for (const [payload, field] of [
    [{ title: 123 }, 'body.title'],
    [{ owner_id: true }, 'body.owner_id'],
    [{ owner_id: '5' }, 'body.owner_id'],
    [{ tags: 'one' }, 'body.tags'],
  ] as const) {
    const res = await a.inject(post(payload));
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().code, 'HR_VALIDATION');
    assert.equal(res.json().field, field);
  }
  const kept = await a.inject(post({ attributes: { risk: 3, pep: false, name: 'x' } }));
  assert.deepEqual(kept.json().body, { attributes: { risk: 3, pep: false, name: 'x' } });
  const unknown = await a.inject(post({ title: 'x', extra: 1 }));
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.json().field, 'body.extra');
});

test('query strings still coerce (they arrive as text)', async () => {
  const a = await app();
  const res = await a.inject(post({}, '/things?limit=5&ids=1&ids=2&q=x'));
  assert.deepEqual(res.json().query, { limit: 5, ids: [1, 2], q: 'x' });
});

test('NUL, unpaired surrogates and infinite numbers are refused in values, nested values, member names and query strings', async () => {
  const a = await app();
  const cases: [object, string, string][] = [
    [{ title: 'a\u0000b' }, '/things', 'body.title'],
    [{ title: 'a\ud800' }, '/things', 'body.title'],
    [{ tags: ['ok', '\udfff'] }, '/things', 'body.tags.1'],
    [{ attributes: { risk: 'hi\u0000' } }, '/things', 'body.attributes.risk'],
    [{ attributes: { 'k\u0000': 'v' } }, '/things', 'body.attributes'],
    [{ attributes: { 'a/b~c': 'x\u0000' } }, '/things', 'body.attributes.a/b~c'],
    [{}, '/things?q=%00', 'query.q'],
  ];
  for (const [payload, url, field] of cases) {
    const res = await a.inject(post(payload, url));
    assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}`);
    assert.equal(res.json().code, 'HR_VALIDATION');
    assert.equal(res.json().field, field);
  }
  const fine = await a.inject(post({ title: 'مرحبا \u202e 😀 e\u0301' }));
  assert.equal(fine.statusCode, 200, 'RTL marks, astral characters and combining marks are text');
  for (const url of ['/things?limit=1e309', '/things?limit=Infinity', '/things?ids=1&ids=-Infinity']) {
    const res = await a.inject(post({}, url));
    assert.equal(res.statusCode, 400, `${url}: Ajv coerces these to an infinite "integer"`);
    assert.match(res.json().detail, /must be a finite number/);
  }
  const huge = await a.inject({
    method: 'POST',
    url: '/things',
    payload: '{"owner_id": 1e309}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(huge.statusCode, 400, 'JSON.parse reads 1e309 as Infinity');
  const allowed = await (await app({ allowNul: true })).inject(post({ title: 'a\u0000b' }));
  assert.equal(allowed.statusCode, 200, 'allowNul lets NUL through');
});
