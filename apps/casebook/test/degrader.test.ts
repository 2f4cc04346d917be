// The SLO degrader in casebook, driven over budget by a slow upstream (the real enrichment simulator): the
// suggestions feature goes off (answers empty and partial at once, the upstream no longer asked), /health warns,
// /metrics shows it; an operator's override wins and is recorded; once the route is back under budget the
// feature comes back on by itself. Flags also gate the depth-3 expansion and new exports.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadSpec } from '@headroom/core/slo';
import { createSimulator } from '@headroom/enrichment-sim';
import type { FastifyInstance } from 'fastify';
import { type EnrichmentClient, enrichmentClient } from '../src/suggestions/enrichment-client.ts';
import { startTestApp, type TestApp } from './support/app.ts';

let sim: FastifyInstance;
let simUrl: string;
let client: EnrichmentClient;
let t: TestApp;
let acme: string;
let caseIds: number[];

before(async () => {
  sim = createSimulator({ behaviour: { latencyMs: 150, jitterMs: 0 } });
  simUrl = await sim.listen({ port: 0, host: '127.0.0.1' });
  client = enrichmentClient(simUrl);
  const spec = await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml'));
  const objective = spec.objectives.find((o) => o.route === '/v1/cases/:id/suggestions')!;
  t = await startTestApp({
    deps: {
      enrichment: client,
      spec: {
        ...spec,
        degrade: [
          {
            name: 'suggestions-slow',
            objective: { ...objective, latency: { p95: 50 } },
            features: ['suggestions'],
            breachFor: 0,
            restoreFor: 0,
            minHold: 0,
            minSamples: 5,
          },
        ],
      },
    },
  });
  acme = await t.login('analyst@acme.test');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 60",
  );
  caseIds = rows.map((r) => r.id);
});
after(async () => {
  await t.close();
  await client.close();
  await sim.close();
});

let next = 0;
const suggestions = () => t.as(acme, { url: `/v1/cases/${caseIds[next++]}/suggestions` });
const upstreamRequests = async () =>
  ((await (await fetch(`${simUrl}/_stats`)).json()) as { requests: number }).requests;
const control = (behaviour: Record<string, number>) =>
  fetch(`${simUrl}/_control`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(behaviour),
  });

test('a slow upstream breaches the objective: suggestions off, health warns; an override wins; healthy again: back on', async () => {
  for (let i = 0; i < 6; i++) assert.equal((await suggestions()).statusCode, 200);
  await t.clock.tick(1_000); // the degrader judges once a second
  const off = await suggestions();
  assert.equal(off.json().partial, true);
  assert.deepEqual(off.json().data, []);
  assert.equal(off.headers['x-headroom-degraded'], 'suggestions');
  const asked = await upstreamRequests();
  await suggestions();
  assert.equal(await upstreamRequests(), asked, 'the upstream is not asked while the feature is off');
  const unknown = await t.as(acme, { url: '/v1/cases/2147483000/suggestions' });
  assert.equal(unknown.statusCode, 404, 'a case that does not exist is still a 404 while the feature is off');

  const health = (await t.app.inject('/health')).json();
  assert.equal(health.status, 'warn');
  assert.match(health.checks['degrader:state'][0].output, /suggestions-slow \(degraded\): suggestions off/);
  const metrics = (await t.operator({ url: '/metrics' })).body;
  assert.match(metrics, /headroom_feature_flag\{flag="suggestions",variant=""\} 0/);
  assert.match(metrics, /headroom_degrader_actions_total\{rule="suggestions-slow",action="degrade"\} 1/);

  // An operator turns it back on by hand: that wins over the degrader, and is recorded.
  const put = await t.operator({
    method: 'PUT',
    url: '/admin/flags/suggestions',
    payload: { value: true, reason: 'incident 7: the upstream is slow but needed' },
  });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().reason, 'override');
  assert.notEqual((await suggestions()).headers['x-headroom-degraded'], 'suggestions');
  assert.equal(await upstreamRequests(), asked + 1, 'asked again under the override');
  const listed = (await t.operator({ url: '/admin/flags' })).json();
  assert.equal(listed.changes[0].action, 'override');
  assert.equal(listed.changes[0].reason, 'incident 7: the upstream is slow but needed');
  assert.match(listed.changes[0].by, /^operator \(request /);
  assert.equal(listed.changes[1].action, 'degrade');
  assert.equal(
    (await t.as(acme, { method: 'PUT', url: '/admin/flags/suggestions', payload: {} })).statusCode,
    403,
  );
  const cleared = await t.operator({
    method: 'DELETE',
    url: '/admin/flags/suggestions',
    payload: { reason: 'incident 7 over' },
  });
  assert.equal(cleared.json().cleared, true);
  assert.equal(
    (await suggestions()).headers['x-headroom-degraded'],
    'suggestions',
    'the degrader holds it again',
  );

  // The upstream heals; off, the route answers fast anyway. Once the window holds only fast answers: back on.
  await control({ latencyMs: 0 });
  await t.clock.tick(11_000);
  for (let i = 0; i < 6; i++) await suggestions();
  await t.clock.tick(1_000);
  const on = await suggestions();
  assert.equal(on.headers['x-headroom-degraded'], undefined);
  assert.equal(on.json().partial, false);
  assert.match((await t.operator({ url: '/metrics' })).body, /action="restore"\} 1/);
});

test('flags gate the depth-3 expansion (served at depth 2) and new exports (503 with Retry-After)', async () => {
  const caseId = caseIds[0]!;
  const full = await t.as(acme, { url: `/v1/cases/${caseId}?expand=owner.team.org` });
  assert.equal(full.headers['x-headroom-degraded'], undefined);
  const reason = { reason: 'drill' };
  await t.operator({
    method: 'PUT',
    url: '/admin/flags/expand_depth_3',
    payload: { value: false, ...reason },
  });
  const shallow = await t.as(acme, { url: `/v1/cases/${caseId}?expand=owner.team.org` });
  assert.equal(shallow.statusCode, 200);
  assert.equal(shallow.headers['x-headroom-degraded'], 'expand_depth_3');
  if (full.json().owner?.team) {
    assert.ok('org' in full.json().owner.team, 'depth 3 names the org');
    assert.ok(!('org' in shallow.json().owner.team), 'depth 2 does not');
  }
  await t.operator({ method: 'PUT', url: '/admin/flags/exports', payload: { value: false, ...reason } });
  const refused = await t.as(acme, {
    method: 'POST',
    url: '/v1/exports',
    payload: { kind: 'cases', format: 'csv' },
    headers: { 'idempotency-key': '"flags-1"' },
  });
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json().code, 'HR_FEATURE_DISABLED');
  assert.equal(refused.headers['retry-after'], '60');
  assert.equal(
    (await t.operator({ url: '/admin/flags/nope', method: 'PUT', payload: { value: true, ...reason } }))
      .statusCode,
    404,
  );
  // A value the flag cannot take is the caller's mistake, named, not a 500 (it was one before the admin API and
  // the operations page shared their flag controls).
  const wrongKind = await t.operator({
    url: '/admin/flags/exports',
    method: 'PUT',
    payload: { value: 'off', ...reason },
  });
  assert.equal(wrongKind.statusCode, 400);
  assert.deepEqual([wrongKind.json().code, wrongKind.json().field], ['HR_VALIDATION', 'body.value']);
});
