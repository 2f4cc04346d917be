// Tracing end to end: the real OpenTelemetry Node SDK and @fastify/otel, configured through OTEL_* variables,
// exporting OTLP/HTTP JSON to a receiver on loopback. Asserts span names, attributes, parentage, sampling, the
// baggage policy, the attribute allow-list and trace ids in the logs.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '@headroom/dev-servers/otlp';
import { startPrometheus } from '@headroom/dev-servers/prometheus';
import { until } from '@headroom/dev-servers/until';
import Fastify, { type FastifyInstance } from 'fastify';
import { headroom, phase, traceEvent, traceLogFields } from '../src/index.ts';
import { startTracing, type Tracing } from '../src/otel.ts';

const spec = {
  service: 'shop',
  objectives: [
    { name: 'search', method: 'GET', route: '/search', journey: 'search', latency: { p95: 60 } },
    { name: 'item', method: 'GET', route: '/items/:id', journey: 'browse', latency: { p95: 40 } },
  ],
  tracing: { golden: ['search'], maxPerSecond: 5, baggage: ['app.client'] },
};

let receiver: OtlpReceiver;
let tracing: Tracing;
let app: FastifyInstance;
const clock = new FakeClock();
const logs: Record<string, unknown>[] = [];

before(async () => {
  receiver = await startOtlpReceiver();
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  });
  const started = await startTracing({ spec, clock });
  assert.ok(started, 'an exporter is configured, so tracing starts');
  tracing = started;
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  app = Fastify({ logger: { level: 'info', mixin: traceLogFields, stream } });
  await app.register(tracing.plugin);
  await app.register(headroom, {
    service: 'shop',
    version: '1.0.0',
    defaultMetrics: false,
    spec,
    serverTiming: true,
  });
  app.get('/search', async (request) => {
    const rows = await phase('db', async () => [{ id: 1 }], {
      'db.system.name': 'postgresql',
      'db.query.text': 'SELECT 1',
    });
    traceEvent('headroom.cache', { 'headroom.cache': 'search', 'headroom.cache.result': 'miss' });
    request.log.info({ found: rows.length }, 'searched');
    return { data: rows };
  });
  app.get('/items/:id', async () => ({ id: 1 }));
  await app.ready();
});

after(async () => {
  await app?.close();
  await tracing?.shutdown();
  await receiver?.close();
});

const byName = (spans: readonly ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

test('a golden-path request: a server span named by route, its journey and step, a db child span, decision events', async () => {
  const res = await app.inject({
    method: 'GET',
    url: '/search?q=alice%40example.com',
    headers: {
      authorization: 'Bearer secret-token',
      baggage: 'app.client=web,app.tenant=someone-else,user.email=alice%40example.com',
    },
  });
  assert.equal(res.statusCode, 200);
  assert.match(
    String(res.headers['server-timing']),
    /^db;dur=[\d.]+, serialize;dur=[\d.]+, total;dur=[\d.]+$/,
  );
  await tracing.forceFlush();
  const spans = await receiver.waitFor(
    (s) => byName(s, 'GET /search').length === 1 && byName(s, 'db').length === 1,
  );
  const server = byName(spans, 'GET /search')[0]!;
  const db = byName(spans, 'db')[0]!;
  assert.equal(server.kind, 2, 'a SERVER span');
  assert.equal(server.parentSpanId, '', 'a root: no traceparent came in');
  assert.equal(db.traceId, server.traceId);
  assert.equal(db.parentSpanId, server.spanId, 'the db phase is a child of the request');
  assert.equal(server.attributes['http.route'], '/search');
  assert.equal(server.attributes['app.journey'], 'search');
  assert.equal(server.attributes['app.step'], 'search');
  assert.equal(server.attributes['app.client'], 'web', 'an allowed baggage key reaches the span');
  assert.equal(server.attributes['app.tenant'], undefined, 'a tenant in baggage is never believed');
  assert.equal(server.attributes['url.path'], undefined, 'the raw path and query do not leave the process');
  assert.equal(server.resource['service.name'], 'shop');
  assert.equal(db.attributes['db.system.name'], 'postgresql');
  assert.deepEqual(
    server.events.map((e) => e.name),
    ['headroom.cache'],
  );
  const exported = JSON.stringify(spans);
  for (const secret of ['alice', 'example.com', 'secret-token', 'someone-else', 'user.email']) {
    assert.ok(!exported.includes(secret), `"${secret}" must not reach an exported span`);
  }
  const line = logs.find((l) => l.msg === 'searched');
  assert.equal(line?.trace_id, server.traceId, 'the log line carries the trace id');
  assert.match(String(line?.span_id), /^[0-9a-f]{16}$/);
});

test('sampling: other journeys by ratio (0 here), a sampled parent always, the golden path within the cap', async () => {
  await clock.tick(1000); // a full bucket: 5 traces
  const before = receiver.spans.length;
  assert.equal((await app.inject({ method: 'GET', url: '/items/1' })).statusCode, 200);
  const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
  assert.equal(
    (
      await app.inject({
        method: 'GET',
        url: '/items/2',
        headers: { traceparent: `00-${parent.traceId}-${parent.spanId}-01` },
      })
    ).statusCode,
    200,
  );
  // The clock has not moved: 5 golden traces, then none.
  for (let i = 0; i < 8; i++) await app.inject({ method: 'GET', url: '/search' });
  await tracing.forceFlush();
  const spans = await receiver.waitFor((s) => byName(s.slice(before), 'GET /items/:id').length >= 1);
  const items = byName(spans.slice(before), 'GET /items/:id');
  assert.equal(items.length, 1, 'the unsampled /items/1 is not exported');
  assert.equal(items[0]!.traceId, parent.traceId, 'the caller’s trace is continued');
  assert.equal(items[0]!.parentSpanId, parent.spanId);
  assert.equal(byName(spans.slice(before), 'GET /search').length, 5, 'at most max_per_second traces start');
  // A second later the bucket is full again.
  await clock.tick(1000);
  for (let i = 0; i < 7; i++) await app.inject({ method: 'GET', url: '/search' });
  await tracing.forceFlush();
  await receiver.waitFor((s) => byName(s.slice(before), 'GET /search').length >= 10);
  assert.equal(byName(receiver.spans.slice(before), 'GET /search').length, 10);
  const unsampled = logs.filter((l) => l.msg === 'searched' && l.trace_id === undefined);
  assert.ok(unsampled.length >= 1, 'an unsampled request logs no trace id');
});

test('/metrics and health probes are not traced', async () => {
  const before = receiver.spans.length;
  await clock.tick(1000);
  await app.inject({ method: 'GET', url: '/metrics' });
  await app.inject({ method: 'GET', url: '/health/live' });
  await app.inject({ method: 'GET', url: '/search' });
  await tracing.forceFlush();
  await receiver.waitFor((s) => s.length > before);
  assert.deepEqual([...new Set(receiver.spans.slice(before).map((s) => s.name))].sort(), [
    'GET /search',
    'db',
  ]);
});

test('exemplars: a sampled request’s trace id on its latency bucket, in OpenMetrics scrapes only', async () => {
  await clock.tick(1000);
  assert.equal((await app.inject({ method: 'GET', url: '/search' })).statusCode, 200);
  await tracing.forceFlush();
  const om = await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
  });
  assert.match(String(om.headers['content-type']), /^application\/openmetrics-text/);
  assert.match(om.body, /\n# EOF\n$/);
  const traced = om.body
    .split('\n')
    .find(
      (l) =>
        l.startsWith('http_request_duration_seconds_bucket{') &&
        l.includes('route="/search"') &&
        l.includes(' # {'),
    );
  assert.ok(traced, 'a bucket of /search carries an exemplar');
  const traceId = /trace_id="([0-9a-f]{32})"/.exec(traced)![1]!;
  assert.ok(
    receiver.spans.some((s) => s.traceId === traceId && s.name === 'GET /search'),
    'it names an exported trace',
  );
  assert.match(om.body, /^http_requests_total\{method="GET",route="\/search",code="200"\} \d+$/m);
  // The Prometheus text format is untouched: no exemplars, counters keep `_total` in their family name.
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.doesNotMatch(text, / # \{/);
  assert.match(text, /^# TYPE http_requests_total counter$/m);
});

test('a real Prometheus with exemplar storage keeps the trace ids it scraped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'headroom-exemplars-'));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const prometheus = await startPrometheus({
    dir,
    targets: [{ address: address.replace('http://', '') }],
    features: ['exemplar-storage'],
  });
  try {
    let found: string | undefined;
    await until(
      async () => {
        await clock.tick(1000);
        await app.inject({ method: 'GET', url: '/search' });
        const now = Date.now() / 1000;
        const res = await fetch(
          `${prometheus.url}/api/v1/query_exemplars?query=http_request_duration_seconds_bucket&start=${now - 300}&end=${now + 60}`,
        );
        const body = (await res.json()) as { data?: { exemplars?: { labels: Record<string, string> }[] }[] };
        found = body.data?.flatMap((d) => d.exemplars ?? []).find((e) => e.labels.trace_id)?.labels.trace_id;
        return found !== undefined;
      },
      { timeout: 30_000, interval: 500, what: 'an exemplar in Prometheus' },
    );
    await tracing.forceFlush();
    assert.match(found!, /^[0-9a-f]{32}$/);
    await receiver.waitFor((s) => s.some((x) => x.traceId === found));
  } finally {
    await prometheus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
