import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSimulator, suggestionsFor } from '../src/simulator.ts';

test('answers deterministic suggestions per tenant and case', async () => {
  const sim = createSimulator({ behaviour: { latencyMs: 0, jitterMs: 0 } });
  const a = await sim.inject({ url: '/v1/enrich/acme/42' });
  assert.equal(a.statusCode, 200);
  assert.deepEqual(a.json().suggestions, suggestionsFor('acme', 42));
  assert.deepEqual((await sim.inject({ url: '/v1/enrich/acme/42' })).json(), a.json());
  assert.notDeepEqual(suggestionsFor('globex', 42), suggestionsFor('acme', 42));
  await sim.close();
});

test('behaviour changes while it runs: failures, then calm again', async () => {
  const sim = createSimulator({ behaviour: { latencyMs: 0, jitterMs: 0 } });
  const set = (body: object) => sim.inject({ method: 'PUT', url: '/_control', payload: body });
  assert.equal((await set({ failureRate: 1 })).statusCode, 200);
  assert.equal((await sim.inject({ url: '/v1/enrich/acme/1' })).statusCode, 503);
  await set({ failureRate: 0 });
  assert.equal((await sim.inject({ url: '/v1/enrich/acme/1' })).statusCode, 200);
  assert.deepEqual((await sim.inject({ url: '/_stats' })).json(), { requests: 2, failures: 1, hangs: 0 });
  assert.equal((await set({ failureRate: 2 })).statusCode, 400);
  await sim.close();
});

test('a hung request stays open until the simulator calms down', async () => {
  const sim = createSimulator({ behaviour: { latencyMs: 0, jitterMs: 0, hangRate: 1 } });
  let settled = false;
  const pending = sim.inject({ url: '/v1/enrich/acme/3' }).then((res) => {
    settled = true;
    return res;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false);
  await sim.inject({ method: 'PUT', url: '/_control', payload: { hangRate: 0 } });
  assert.equal((await pending).statusCode, 503);
  await sim.close();
});
