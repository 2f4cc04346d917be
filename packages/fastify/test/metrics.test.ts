// Metrics: one registry per app, labelled by route template, with bounded cardinality and a build marker.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import Fastify from 'fastify';
import { Counter, register as globalRegistry } from 'prom-client';
import { type HeadroomOptions, headroom } from '../src/index.ts';

async function buildApp(options: Partial<HeadroomOptions> = {}) {
  const app = Fastify();
  await app.register(headroom, {
    service: 'test',
    version: '1.2.3',
    commit: 'abc123',
    defaultMetrics: false,
    ...options,
  });
  app.get('/v1/cases/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  return app;
}

async function scrape(app: Awaited<ReturnType<typeof buildApp>>, path = '/metrics') {
  const res = await app.inject({ method: 'GET', url: path });
  assert.equal(res.statusCode, 200);
  return res;
}

function seriesOf(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`));
}

test('requests are counted by route template, never by raw URL', async () => {
  const app = await buildApp();
  await app.inject({ method: 'GET', url: '/v1/cases/42?expand=owner' });
  await app.inject({ method: 'GET', url: '/v1/cases/43' });
  const text = (await scrape(app)).body;
  assert.deepEqual(seriesOf(text, 'http_requests_total'), [
    'http_requests_total{method="GET",route="/v1/cases/:id",code="200"} 2',
  ]);
  assert.ok(!text.includes('/v1/cases/42'));
  assert.ok(!text.includes('expand'));
  assert.ok(
    text.includes('http_request_duration_seconds_count{method="GET",route="/v1/cases/:id",code="200"} 2'),
    'the histogram sees the same requests',
  );
});

test('unmatched paths share one __unmatched__ series however many there are', async () => {
  const app = await buildApp();
  for (let i = 0; i < 100; i++) await app.inject({ method: 'GET', url: `/${randomUUID()}/${i}?q=${i}` });
  const series = seriesOf((await scrape(app)).body, 'http_requests_total');
  assert.deepEqual(series, ['http_requests_total{method="GET",route="__unmatched__",code="404"} 100']);
});

test('the histogram uses API buckets from 1 ms to 10 s and the elapsed time in seconds', async () => {
  const app = await buildApp();
  await app.inject({ method: 'GET', url: '/v1/cases/1' });
  const text = (await scrape(app)).body;
  const buckets = seriesOf(text, 'http_request_duration_seconds_bucket').map(
    (line) => /le="([^"]+)"/.exec(line)?.[1],
  );
  assert.equal(buckets[0], '0.001');
  assert.equal(buckets.at(-2), '10');
  assert.equal(buckets.at(-1), '+Inf');
  const sum = Number(seriesOf(text, 'http_request_duration_seconds_sum')[0]?.split(' ')[1]);
  assert.ok(sum > 0 && sum < 1, `a local request takes well under a second, got ${sum}`);
});

test('build info is a gauge of 1 with service, version and commit', async () => {
  const res = await scrape(await buildApp());
  assert.match(res.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(res.body, /^headroom_build_info\{service="test",version="1\.2\.3",commit="abc123"\} 1$/m);
});

test('the metrics path is configurable and default metrics are opt-out', async () => {
  const quiet = await buildApp({ metricsPath: '/_metrics' });
  assert.ok(!(await scrape(quiet, '/_metrics')).body.includes('process_cpu'));
  assert.equal((await quiet.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
  const full = await buildApp({ defaultMetrics: true });
  assert.ok((await scrape(full)).body.includes('process_cpu_user_seconds_total'));
});

test('the exposition passes promtool check metrics, default metrics included', async () => {
  const app = await buildApp({ defaultMetrics: true });
  await app.inject({ method: 'GET', url: '/v1/cases/1' });
  const { body } = await scrape(app);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assert.equal(
    lint.error,
    undefined,
    'promtool (Debian package prometheus) is installed; .ci/run installs it',
  );
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no warning either');
  assert.match(body, /nodejs_active_handles\{type="/, 'the labelled gauges stay');
});

test('two apps in one process keep separate registries, none of them the global one', async () => {
  const a = await buildApp({ defaultMetrics: true, service: 'a' });
  const b = await buildApp({ defaultMetrics: true, service: 'b' });
  assert.notEqual(a.headroom.registry, b.headroom.registry);
  assert.notEqual(a.headroom.registry, globalRegistry);
  new Counter({ name: 'casebook_logins_total', help: 'Logins.', registers: [a.headroom.registry] }).inc();
  await a.inject({ method: 'GET', url: '/v1/cases/1' });
  const textA = (await scrape(a)).body;
  const textB = (await scrape(b)).body;
  assert.match(textA, /^casebook_logins_total 1$/m);
  assert.ok(!textB.includes('casebook_logins_total'));
  assert.ok(textA.includes('route="/v1/cases/:id"'));
  assert.ok(!textB.includes('route="/v1/cases/:id"'), 'a request to a is not counted by b');
  assert.match(textB, /service="b"/);
});

test('the plugin lists the routes registered after it, by template', async () => {
  const app = Fastify();
  await app.register(headroom, { service: 'svc', version: '1.0.0', defaultMetrics: false });
  app.get('/v1/things/:id', async () => ({}));
  await app.register(async (child) => {
    child.post('/v1/things', async () => ({}));
  });
  await app.ready();
  const listed = app.headroom.routes.map((r) => `${r.method} ${r.url}`);
  assert.ok(listed.includes('GET /v1/things/:id'));
  assert.ok(listed.includes('POST /v1/things'));
  assert.ok(listed.includes('GET /metrics'));
  await app.close();
});

test('every latency budget of the spec is a bucket edge, so the share within budget is one bucket over the count', async () => {
  const app = await buildApp({
    spec: { objectives: [{ latency: { p95: 60, p99: 150 } }, { latency: { p50: 15, p95: 5_000 } }] },
  });
  await app.inject({ method: 'GET', url: '/v1/cases/1' });
  const { body } = await scrape(app);
  const edges = seriesOf(body, 'http_request_duration_seconds_bucket').map(
    (line) => /le="([^"]+)"/.exec(line)![1],
  );
  for (const le of ['0.015', '0.06', '0.15', '5'])
    assert.ok(edges.includes(le), `le="${le}" in ${edges.join(' ')}`);
  assert.deepEqual(
    edges.filter((le) => le !== '+Inf').map(Number),
    [...new Set(edges.filter((le) => le !== '+Inf').map(Number))].sort((a, b) => a - b),
    'sorted, each once (5 s was an edge already)',
  );
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '');
  const custom = await buildApp({
    latencyBuckets: [0.1, 1],
    spec: { objectives: [{ latency: { p95: 40 } }] },
  });
  await custom.inject({ method: 'GET', url: '/v1/cases/1' });
  const customEdges = seriesOf((await scrape(custom)).body, 'http_request_duration_seconds_bucket').map(
    (line) => /le="([^"]+)"/.exec(line)![1],
  );
  assert.deepEqual(customEdges, ['0.04', '0.1', '1', '+Inf']);
});
