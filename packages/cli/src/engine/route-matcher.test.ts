import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routeMatcher } from './route-matcher.ts';

test('known templates name concrete paths; static segments win over parameters', () => {
  const match = routeMatcher(['GET /v1/cases/:id', 'GET /v1/cases/search', 'GET /v1/cases/:id/timeline']);
  assert.equal(match('GET', '/v1/cases/search?q=fraud', ''), 'GET /v1/cases/search');
  assert.equal(match('GET', '/v1/cases/42', ''), 'GET /v1/cases/:id');
  assert.equal(match('GET', '/v1/cases/42/timeline?limit=5', ''), 'GET /v1/cases/:id/timeline');
  assert.equal(match('POST', '/v1/cases/42', '/v1/cases/${id}'), 'POST /v1/cases/:id', 'method matters');
});

test('unknown paths are named by the template they were written from', () => {
  const match = routeMatcher([]);
  assert.equal(
    match('GET', '/v1/things/7/parts', '/v1/things/${thing.id}/parts?x=${n}'),
    'GET /v1/things/:id/parts',
  );
});

test('a route that is not a method and a path is refused, naming it', () => {
  for (const bad of ['acme', 'GET', 'GET v1/cases', 'GET /a /b', '']) {
    assert.throws(
      () => routeMatcher([bad]),
      new RegExp(`route "${bad}": a route template is a method and a path`),
    );
  }
});
