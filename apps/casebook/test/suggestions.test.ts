// Drill: the suggestions route against the real enrichment simulator over HTTP. The upstream turns slow,
// the breaker opens on the slow-call rate, answers come from the fallback fast, half-open probes run, and
// the breaker closes once the upstream recovers. Breaker time is the fake clock's; upstream latency is real.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSimulator } from '@headroom/enrichment-sim';
import type { FastifyInstance } from 'fastify';
import { type EnrichmentClient, enrichmentClient } from '../src/suggestions/enrichment-client.ts';
import { defaultTuning } from '../src/suggestions/tuning.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { nonSnakeMembers } from './support/shape.ts';

let t: TestApp;
let sim: FastifyInstance;
let simUrl: string;
let acme: string;
let admin: string;
let caseIds: number[];
const enrichment = { client: undefined as EnrichmentClient | undefined };
// Resolvers waiting for the next upstream call to start, so the test moves the fake clock while it runs.
const waitingForCall: (() => void)[] = [];
const nextUpstreamCall = () => new Promise<void>((resolve) => waitingForCall.push(resolve));

before(async () => {
  sim = createSimulator({ behaviour: { latencyMs: 0, jitterMs: 0 } });
  simUrl = await sim.listen({ port: 0, host: '127.0.0.1' });
  enrichment.client = enrichmentClient(simUrl);
  const real = enrichment.client;
  const observed: EnrichmentClient = {
    suggestions(tenant, caseId, signal) {
      for (const resolve of waitingForCall.splice(0)) resolve();
      return real.suggestions(tenant, caseId, signal);
    },
    close: () => real.close(),
  };
  t = await startTestApp({ deps: { enrichment: observed, suggestions: { freshMs: tuning.freshMs } } });
  acme = await t.login('analyst@acme.test');
  admin = await t.login('admin@acme.test');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 60",
  );
  caseIds = rows.map((r) => r.id);
});
after(async () => {
  await t.close();
  await enrichment.client?.close();
  await sim.close();
});

const control = (behaviour: Record<string, number>) =>
  fetch(`${simUrl}/_control`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(behaviour),
  });
const upstreamRequests = async () =>
  ((await (await fetch(`${simUrl}/_stats`)).json()) as { requests: number }).requests;

// Answers stay fresh for 1 s, less than the breaker's 2 s open time, so a test can see a stale answer.
const tuning = { ...defaultTuning, freshMs: 1_000 };

let next = 0;
const freshCase = () => caseIds[next++]!;

// A request whose upstream call takes `fakeMs` on the breaker's clock (the real upstream answers meanwhile).
async function suggestions(id: number, fakeMs = 0) {
  const called = nextUpstreamCall();
  const response = t.as(acme, { url: `/v1/cases/${id}/suggestions` });
  if (fakeMs > 0) {
    // An open breaker answers without calling the upstream; then there is nothing to slow down.
    const upstreamCalled = await Promise.race([called.then(() => true), response.then(() => false)]);
    if (upstreamCalled) t.clock.advance(fakeMs);
  }
  return response;
}

// Moves the fake clock in 10 ms steps until the response is in: retries back off and timeouts fire on it.
async function driven<T>(response: Promise<T>): Promise<T> {
  let done = false;
  void response.finally(() => {
    done = true;
  });
  for (let step = 0; !done && step < 1_000; step++) await t.clock.tick(10);
  return response;
}

const breakerState = async () => {
  const res = await t.operator({ url: '/admin/breakers' });
  return (res.json().data as { name: string; state: string }[]).find((b) => b.name === 'enrichment')!.state;
};

test('a calm upstream answers suggestions; the answer is cached and tenant-scoped', async () => {
  const id = freshCase();
  const res = await suggestions(id);
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.partial, false);
  assert.equal(body.stale, false);
  assert.equal(body.version, 1, 'a list: the envelope version');
  assert.deepEqual(Object.keys(body), ['version', 'case_id', 'data', 'stale', 'partial']);
  assert.deepEqual(nonSnakeMembers(body), []);
  assert.ok(body.data.length >= 3);
  assert.equal(
    res.headers['cache-control'],
    'no-store',
    'a tenant’s suggestions are kept by no shared cache',
  );
  const before = await upstreamRequests();
  assert.deepEqual((await suggestions(id)).json().data, body.data);
  assert.equal(await upstreamRequests(), before, 'the second answer came from the cache');

  const globex = await t.login('analyst@globex.test');
  const foreign = await t.as(globex, { url: `/v1/cases/${id}/suggestions` });
  assert.equal(foreign.statusCode, 404, "another tenant's case does not exist for globex");
});

test('a slow upstream opens the breaker on the slow-call rate; fallbacks answer fast; probes close it again', async () => {
  const cached = freshCase();
  assert.equal((await suggestions(cached)).json().partial, false);

  await control({ latencyMs: 30 });
  const slowMs = tuning.slowCallMs + 10; // slower than the threshold, faster than the attempt timeout
  let slowCalls = 0;
  while ((await breakerState()) === 'closed' && slowCalls < 20) {
    const res = await suggestions(freshCase(), slowMs);
    slowCalls++;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().partial, false, 'slow but in time: a real answer');
  }
  assert.equal(await breakerState(), 'open', 'opened on the slow-call rate');
  // The window held 2 fast calls from before; with minimumCalls 10 and a 50% threshold it opens at call 10.
  assert.equal(slowCalls, 8);
  const metrics = (await t.operator({ url: '/metrics' })).body;
  assert.match(
    metrics,
    /headroom_breaker_transitions_total\{breaker="enrichment",from="closed",to="open"\} 1/,
  );

  // Open: no upstream call; uncached cases get a degraded answer, cached ones a stale one, both fast.
  const calls = await upstreamRequests();
  const started = performance.now();
  const degraded = await suggestions(freshCase());
  const degradedMs = performance.now() - started;
  assert.equal(degraded.statusCode, 200);
  assert.deepEqual(degraded.json().data, []);
  assert.equal(degraded.json().partial, true);
  assert.ok(degradedMs < 50, `fallback took ${degradedMs.toFixed(1)} ms`);
  t.clock.advance(tuning.freshMs); // the cached answer is now past fresh, within grace
  const stale = (await suggestions(cached)).json();
  assert.equal(stale.partial, false);
  assert.equal(stale.stale, true, 'served stale from the cache while the breaker is open');
  assert.equal(await upstreamRequests(), calls, 'the open breaker kept every call off the upstream');
  assert.equal((await t.app.inject('/health/ready')).statusCode, 200, 'an optional upstream keeps readiness');
  const health = (await t.app.inject('/health')).json();
  assert.equal(health.checks['breaker:enrichment'][0].status, 'warn');

  // Half-open while still slow: the probes are slow, so the breaker opens again (delay doubled).
  t.clock.advance(tuning.halfOpenAfterMs);
  assert.equal(await breakerState(), 'half-open');
  // Three probes with a 50% slow threshold: the second slow one decides.
  await suggestions(freshCase(), slowMs);
  assert.equal(await breakerState(), 'half-open');
  await suggestions(freshCase(), slowMs);
  assert.equal(await breakerState(), 'open');

  // Recovered upstream: after the doubled delay, three fast probes close the breaker.
  await control({ latencyMs: 0 });
  t.clock.advance(tuning.halfOpenAfterMs * 2);
  assert.equal(await breakerState(), 'half-open');
  for (let i = 0; i < 3; i++) assert.equal((await suggestions(freshCase())).json().partial, false);
  assert.equal(await breakerState(), 'closed');
});

test('an upstream that fails or hangs never turns into an error for the caller', async () => {
  await t.operator({ method: 'POST', url: '/admin/breakers/enrichment/reset' });
  await control({ latencyMs: 0, failureRate: 1 });
  const failed = await driven(suggestions(freshCase()));
  assert.equal(failed.statusCode, 200);
  assert.equal(failed.json().partial, true);

  await control({ failureRate: 0, hangRate: 1 });
  const answer = await driven(suggestions(freshCase()));
  assert.equal(answer.statusCode, 200);
  assert.equal(answer.json().partial, true, 'the timeout ended the hung call');
  await control({ hangRate: 0 });
});

test('the admin API isolates and resets the shared enrichment breaker, for operators only', async () => {
  await control({ latencyMs: 0, failureRate: 0, hangRate: 0 });
  for (const token of [acme, admin]) {
    const refused = await t.as(token, { method: 'POST', url: '/admin/breakers/enrichment/isolate' });
    assert.equal(refused.statusCode, 403, 'a tenant’s admin cannot cut the upstream for every tenant');
  }
  assert.equal(await breakerState(), 'closed');
  const isolated = await t.operator({ method: 'POST', url: '/admin/breakers/enrichment/isolate' });
  assert.equal(isolated.json().state, 'isolated');
  const calls = await upstreamRequests();
  assert.equal((await suggestions(freshCase())).json().partial, true);
  assert.equal(await upstreamRequests(), calls);
  await t.operator({ method: 'POST', url: '/admin/breakers/enrichment/reset' });
  assert.equal((await suggestions(freshCase())).json().partial, false);
});
