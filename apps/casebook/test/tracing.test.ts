// Casebook traced along its golden path (login → search → detail), exported by the real OpenTelemetry SDK over
// OTLP/HTTP JSON to a receiver on loopback; and its phase timings as Server-Timing and phase histograms.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { loadSpec } from '@headroom/core/slo';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '@headroom/dev-servers/otlp';
import { tracedJob, traceLogFields } from '@headroom/fastify';
import { startTracing, type Tracing } from '@headroom/fastify/otel';
import { pino } from 'pino';
import { database } from '../src/db/database.ts';
import { exportJob } from '../src/exports/export-job.ts';
import { startTestApp, type TestApp } from './support/app.ts';

let receiver: OtlpReceiver;
let tracing: Tracing;
let t: TestApp;
const logs: Record<string, unknown>[] = [];

before(async () => {
  receiver = await startOtlpReceiver();
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // Only the golden path (and callers' sampled traces) are traced.
    OTEL_TRACES_SAMPLER_ARG: '0',
  });
  const spec = await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml'));
  const started = await startTracing({ spec });
  assert.ok(started);
  tracing = started;
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  t = await startTestApp({
    // The test starts the export worker itself (as exports.test.ts does), with the handler as casebook wraps it.
    deps: { tracing, spec, exportWorkers: 0, logger: pino({ level: 'info', mixin: traceLogFields }, stream) },
  });
});

after(async () => {
  await t?.close();
  await tracing?.shutdown();
  await receiver?.close();
});

const named = (spans: readonly ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);
const childrenOf = (spans: readonly ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.parentSpanId === parent.spanId);

test('the golden path is traced: spans by route template, journey and step, db and cache beneath, no personal data', async () => {
  const token = await t.login('analyst@acme.test');
  const search = await t.as(token, { url: '/v1/cases/search?q=fraud&limit=5' });
  assert.equal(search.statusCode, 200);
  const id = (search.json() as { data: { id: number }[] }).data[0]!.id;
  assert.equal((await t.as(token, { url: `/v1/cases/${id}` })).statusCode, 200);
  // Not on the golden path, and the ratio is 0: no trace.
  assert.equal((await t.as(token, { url: '/v1/webhooks' })).statusCode < 500, true);
  await tracing.forceFlush();
  const spans = await receiver.waitFor(
    (s) => named(s, 'GET /v1/cases/search').length === 1 && named(s, 'GET /v1/cases/:id').length === 1,
  );
  const login = named(spans, 'POST /v1/auth/login')[0]!;
  assert.equal(login.attributes['app.journey'], 'login');
  const server = named(spans, 'GET /v1/cases/search')[0]!;
  assert.equal(server.kind, 2);
  assert.equal(server.attributes['app.journey'], 'case-search');
  assert.equal(server.attributes['app.step'], 'case-search');
  const acme = (await t.db.pool.query("SELECT id FROM tenants WHERE slug = 'acme'")).rows[0].id;
  assert.equal(server.attributes['app.tenant'], String(acme), 'the tenant of the principal');
  const anotherTenant = await t.as(token, {
    url: '/v1/cases/search?q=fraud&limit=5',
    headers: { baggage: 'app.tenant=999', 'x-tenant-id': '999' },
  });
  assert.equal(anotherTenant.statusCode, 403, 'a tenant header that disagrees with the principal is refused');
  assert.equal(server.attributes['http.response.status_code'], 200);
  assert.equal(server.attributes['url.path'], undefined, 'the raw path (ids, query) stays in the process');
  const children = childrenOf(spans, server);
  const cache = children.find((s) => s.name === 'cache');
  assert.ok(cache, `a cache phase under the search span; children: ${children.map((s) => s.name)}`);
  assert.ok(
    cache.events.some((e) => e.name === 'headroom.cache' && e.attributes['headroom.cache.result'] === 'miss'),
    'the cache says what it decided',
  );
  const queries = spans.filter(
    (s) => s.attributes['db.system.name'] !== undefined && s.traceId === server.traceId,
  );
  assert.ok(queries.length >= 1, 'the search query is a db span of the same trace');
  assert.ok(queries.every((q) => q.attributes['db.system.name'] === 'postgresql'));
  assert.ok(
    queries.some((q) => String(q.attributes['db.query.text']).includes('$1')),
    'placeholders, not values',
  );
  assert.ok(
    server.events.some(
      (e) => e.name === 'headroom.ratelimit' && e.attributes['headroom.result'] === 'allowed',
    ),
    'the rate-limit decision is an event of the request',
  );
  const exported = JSON.stringify(receiver.spans);
  for (const secret of ['analyst@acme.test', 'headroom-demo', token, 'fraud']) {
    assert.ok(!exported.includes(secret), `"${secret}" must not reach an exported span`);
  }
  assert.equal(named(spans, 'GET /v1/webhooks').length, 0);
  const completed = logs.find((l) => l.msg === 'request completed' && l.trace_id === server.traceId);
  assert.ok(completed, 'the request log line carries its trace id');
});

test('Server-Timing for admins and operators, behind a flag for others; phase histograms for budgeted routes', async () => {
  const analyst = await t.login('analyst@acme.test');
  const admin = await t.login('admin@acme.test');
  const asAnalyst = await t.as(analyst, { url: '/v1/cases/search?q=fraud' });
  assert.equal(asAnalyst.headers['server-timing'], undefined, 'an analyst is not told where the time goes');
  const asAdmin = await t.as(admin, { url: '/v1/cases/search?q=fraud' });
  const timing = String(asAdmin.headers['server-timing']);
  // The test's clock is fake, so every phase lasts 0 ms: what is checked is which phases ran.
  const ran = timing.split(', ').map((p) => p.split(';')[0]);
  for (const phase of ['auth', 'ratelimit', 'cache', 'total'])
    assert.ok(ran.includes(phase), `${phase} in ${timing}`);
  const flag = await t.operator({
    method: 'PUT',
    url: '/admin/flags/server_timing',
    payload: { value: true, reason: 'load test of the phase budgets' },
  });
  assert.equal(flag.statusCode, 200, flag.body);
  const flagged = await t.as(analyst, { url: '/v1/cases/search?q=fraud' });
  assert.match(String(flagged.headers['server-timing']), /total;dur=/);
  const metrics = (await t.operator({ url: '/metrics' })).body;
  const searchDb = metrics
    .split('\n')
    .filter((l) =>
      l.startsWith('headroom_phase_duration_seconds_count{method="GET",route="/v1/cases/search"'),
    );
  const phases = searchDb.map((l) => /phase="([a-z_]+)"/.exec(l)?.[1]).sort();
  assert.deepEqual(phases, ['auth', 'cache', 'db', 'ratelimit']);
  assert.match(
    metrics,
    /headroom_phase_duration_seconds_bucket\{le="0.02",method="GET",route="\/v1\/cases\/search",phase="db"\}/,
  );
  assert.doesNotMatch(metrics, /headroom_phase_duration_seconds_count\{method="GET",route="\/v1\/webhooks"/);
});

test('an export runs in a span of its own, linked to the request that asked for it', async () => {
  const token = await t.login('analyst@acme.test');
  const asked = await t.as(token, {
    method: 'POST',
    url: '/v1/exports',
    payload: { kind: 'cases', format: 'csv' },
    headers: { 'idempotency-key': '"traced-export"' },
  });
  assert.equal(asked.statusCode, 202, asked.body);
  const id = (asked.json() as { id: number }).id;
  const worker = t.app.headroom.jobs.jobs!.work('exports', tracedJob(exportJob(database(t.db.pool))), {
    concurrency: 1,
  });
  for (let i = 0; i < 2_000; i++) {
    if ((await t.as(token, { url: `/v1/exports/${id}` })).json().status === 'done') break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await tracing.forceFlush();
  const spans = await receiver.waitFor(
    (s) => named(s, 'POST /v1/exports').length === 1 && named(s, 'exports process').length === 1,
  );
  const request = named(spans, 'POST /v1/exports')[0]!;
  const run = named(spans, 'exports process')[0]!;
  assert.equal(request.attributes['app.journey'], 'export');
  assert.equal(run.kind, 5, 'a CONSUMER span');
  assert.equal(run.parentSpanId, '', 'a trace of its own');
  assert.notEqual(run.traceId, request.traceId);
  assert.equal(run.links.length, 1);
  assert.equal(run.links[0]!.traceId, request.traceId, 'linked to the request’s trace');
  assert.ok(
    spans.some((s) => s.spanId === run.links[0]!.spanId && s.traceId === request.traceId),
    'the link names a span of that trace (the enqueueing transaction)',
  );
  assert.equal(run.attributes['messaging.destination.name'], 'exports');
  assert.ok(
    spans.some((s) => s.attributes['db.system.name'] === 'postgresql' && s.parentSpanId === run.spanId),
    'the export’s queries are its children',
  );
  await worker.stop();
});
