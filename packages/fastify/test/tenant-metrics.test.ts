// Cost attribution and the cardinality guard through the plugin: requests and CPU by tenant (top N) and feature,
// CPU split over a fake clock and a fake CPU reader, overflow series, and promtool on the result.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import Fastify, { type FastifyInstance } from 'fastify';
import { type HeadroomOptions, headroom } from '../src/index.ts';
import { tenantTestOptions } from './support/tenant-options.ts';

interface Harness {
  app: FastifyInstance;
  clock: FakeClock;
  /** The process CPU the plugin reads, in seconds: set it before the clock crosses an interval. */
  cpu: { seconds: number };
  /** Handlers of `/work/:id` wait here until released. */
  arrived: Map<string, () => void>;
}

const spec = (telemetry: { tenantTop: number; maxSeries: number }) => ({
  objectives: [
    { name: 'search', method: 'GET', route: '/v1/cases/search', journey: 'case-search', latency: {} },
  ],
  telemetry,
});

async function harness(options: Partial<HeadroomOptions> = {}): Promise<Harness> {
  const clock = new FakeClock();
  const cpu = { seconds: 0 };
  const arrived = new Map<string, () => void>();
  const app = Fastify();
  await app.register(headroom, {
    ...tenantTestOptions(clock),
    cost: { cpu: () => cpu.seconds, interval: 1000, rankEvery: 5000 },
    spec: spec({ tenantTop: 20, maxSeries: 10_000 }),
    ...options,
  });
  app.get('/work/:id', { config: { feature: 'bulk-work' } }, async (request) => {
    const { id } = request.params as { id: string };
    await new Promise<void>((resolve) => arrived.set(id, resolve));
    return { id };
  });
  app.get('/v1/cases/search', async () => ({ data: [] }));
  app.get('/plain', async () => ({ ok: true }));
  return { app, clock, cpu, arrived };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), 'the condition came true');
}

async function metrics(app: FastifyInstance): Promise<string> {
  return (await app.inject({ method: 'GET', url: '/metrics' })).body;
}

const as = (tenant?: string) => (tenant === undefined ? {} : { 'x-test-tenant': tenant });

test('requests count by tenant and feature: config.feature, else the spec journey, else other', async () => {
  const { app } = await harness();
  await app.inject({ url: '/v1/cases/search', headers: as('acme') });
  await app.inject({ url: '/v1/cases/search', headers: as('acme') });
  await app.inject({ url: '/plain', headers: as('globex') });
  await app.inject({ url: '/plain' });
  await app.inject({ url: '/no/such/route', headers: as('acme') });
  const text = await metrics(app);
  assert.match(text, /^headroom_tenant_requests_total\{tenant="acme",feature="case-search"\} 2$/m);
  assert.match(text, /^headroom_tenant_requests_total\{tenant="globex",feature="other"\} 1$/m);
  assert.match(text, /^headroom_tenant_requests_total\{tenant="anonymous",feature="other"\} 1$/m);
  assert.match(
    text,
    /^headroom_tenant_requests_total\{tenant="acme",feature="other"\} 1$/m,
    'a 404 counts too',
  );
});

test('CPU is split across the requests in flight by their time in flight, and every second is charged', async () => {
  const { app, clock, cpu, arrived } = await harness();
  // t=0: a (acme) and b (globex) start.
  const a = app.inject({ url: '/work/a', headers: as('acme') });
  const b = app.inject({ url: '/work/b', headers: as('globex') });
  await until(() => arrived.has('a') && arrived.has('b'));
  clock.advance(300);
  arrived.get('a')!();
  await a; // a ended at t=300: 300 ms of the first interval
  cpu.seconds = 1.3;
  clock.advance(700); // t=1000: 1.3 s of CPU over 300 + 1000 ms in flight: a 0.3 s, b 1.0 s
  clock.advance(500);
  arrived.get('b')!();
  await b; // b ended at t=1500
  cpu.seconds = 1.8;
  clock.advance(500); // t=2000: 0.5 s, b alone in flight
  const text = await metrics(app);
  const cpuOf = (tenant: string) =>
    Number(
      new RegExp(
        `^headroom_tenant_cpu_seconds_total\\{tenant="${tenant}",feature="bulk-work"\\} (\\S+)$`,
        'm',
      ).exec(text)?.[1],
    );
  assert.ok(Math.abs(cpuOf('acme') - 0.3) < 1e-9, `acme ${cpuOf('acme')}`);
  assert.ok(Math.abs(cpuOf('globex') - 1.5) < 1e-9, `globex ${cpuOf('globex')}`);
  assert.ok(Math.abs(cpuOf('acme') + cpuOf('globex') - cpu.seconds) < 1e-9, 'the sum is the process CPU');
});

test('CPU spent while nothing is in flight is charged to nobody, and an idle process runs no timer', async () => {
  const { app, clock, cpu } = await harness();
  await app.inject({ url: '/plain', headers: as('acme') }); // 0 ms in flight on the fake clock
  clock.advance(1000); // the last split, then the timer stops
  assert.equal(clock.pending, 0, 'no timer while idle');
  cpu.seconds = 5;
  clock.advance(60_000);
  const arriving = app.inject({ url: '/plain', headers: as('acme') }); // wakes: the 5 s were spent idle
  await arriving;
  cpu.seconds = 6;
  clock.advance(1000);
  assert.match(await metrics(app), /^headroom_tenant_cpu_seconds_total\{tenant="acme",feature="other"\} 0$/m);
});

test('a request whose client went away is ended at the next split, charged up to then', async () => {
  const { app, clock, cpu, arrived } = await harness();
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const { port } = app.server.address() as { port: number };
    const client = httpRequest({ host: '127.0.0.1', port, path: '/work/gone', headers: as('acme') });
    client.on('error', () => {});
    client.end();
    await until(() => arrived.has('gone'));
    clock.advance(400);
    client.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    cpu.seconds = 2;
    clock.advance(600); // the split sees its answer closed: ended, charged 1000 ms of the only flight
    const text = await metrics(app);
    assert.match(text, /^headroom_tenant_requests_total\{tenant="acme",feature="bulk-work"\} 1$/m);
    assert.match(text, /^headroom_tenant_cpu_seconds_total\{tenant="acme",feature="bulk-work"\} 2$/m);
    arrived.get('gone')!(); // the handler finishes later: not counted twice
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(
      await metrics(app),
      /^headroom_tenant_requests_total\{tenant="acme",feature="bulk-work"\} 1$/m,
    );
  } finally {
    await app.close();
  }
});

test('only the top N tenants get a label; a re-rank swaps in a busier one and drops the old series', async () => {
  const { app, clock } = await harness({ spec: spec({ tenantTop: 1, maxSeries: 10_000 }) });
  await app.inject({ url: '/plain', headers: as('small') }); // takes the one free place
  for (let i = 0; i < 10; i++) await app.inject({ url: '/plain', headers: as('big') });
  let text = await metrics(app);
  assert.match(text, /^headroom_tenant_requests_total\{tenant="small",feature="other"\} 1$/m);
  assert.match(text, /^headroom_tenant_requests_total\{tenant="other",feature="other"\} 10$/m);
  assert.doesNotMatch(text, /tenant="big"/);
  clock.advance(5000); // past rankEvery: the next request's wake-up split re-ranks
  await app.inject({ url: '/plain', headers: as('big') });
  text = await metrics(app);
  assert.match(text, /^headroom_tenant_requests_total\{tenant="big",feature="other"\} 1$/m);
  assert.doesNotMatch(text, /tenant="small"/, 'a tenant that lost its label leaves the exposition');
});

test('tenants.top 0: the tenant label is always "all"', async () => {
  const { app } = await harness({ spec: spec({ tenantTop: 0, maxSeries: 10_000 }) });
  await app.inject({ url: '/plain', headers: as('acme') });
  await app.inject({ url: '/plain' });
  const lines = (await metrics(app))
    .split('\n')
    .filter((l) => l.startsWith('headroom_tenant_requests_total{'));
  assert.deepEqual(lines, ['headroom_tenant_requests_total{tenant="all",feature="other"} 2']);
});

test('a tenant id is bounded before it becomes a label value', async () => {
  const { app } = await harness();
  await app.inject({ url: '/plain', headers: as(`evil"} 1\\n${'x'.repeat(500)}`) });
  const line = (await metrics(app)).split('\n').find((l) => l.startsWith('headroom_tenant_requests_total{'))!;
  const tenant = /tenant="([^"]*)"/.exec(line)![1]!;
  assert.match(tenant, /^[A-Za-z0-9._:@-]{1,64}$/);
});

test('maxSeries from the spec caps every family; refusals are counted by metric', async () => {
  const { app } = await harness({ spec: spec({ tenantTop: 20, maxSeries: 2 }) });
  await app.inject({ url: '/plain' });
  await app.inject({ url: '/v1/cases/search' });
  await app.inject({ url: '/no/such/route' }); // a third label set of http_requests_total
  const text = await metrics(app);
  assert.equal(text.match(/^http_requests_total\{/gm)?.length, 3, 'two label sets and the overflow series');
  assert.match(text, /^http_requests_total\{method="GET",route="\/plain",code="200"\} 1$/m);
  assert.doesNotMatch(text, /route="__unmatched__"/);
  const after = await metrics(app); // the first scrape was a fourth label set
  assert.match(
    after,
    /^http_requests_total\{method="__overflow__",route="__overflow__",code="__overflow__"\} 2$/m,
  );
  assert.match(after, /^headroom_metric_series_dropped_total\{metric="http_requests_total"\} 2$/m);
  assert.match(after, /^headroom_metric_series_dropped_total\{metric="headroom_tenant_requests_total"\} 0$/m);
});

test('the exposition with tenant and drop metrics passes promtool check metrics', async () => {
  const { app, clock, cpu } = await harness({
    defaultMetrics: true,
    spec: spec({ tenantTop: 1, maxSeries: 2 }),
  });
  for (const tenant of ['acme', 'globex', undefined]) {
    await app.inject({ url: '/v1/cases/search', headers: as(tenant) });
    await app.inject({ url: '/plain', headers: as(tenant) });
    await app.inject({ url: `/missing/${tenant}`, headers: as(tenant) });
  }
  cpu.seconds = 0.25;
  clock.advance(1000);
  const body = await metrics(app);
  assert.match(body, /^headroom_tenant_cpu_seconds_total\{/m);
  assert.match(body, /^headroom_metric_series_dropped_total\{metric="http_requests_total"\} [1-9]/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assert.equal(
    lint.error,
    undefined,
    'promtool (Debian package prometheus) is installed; .ci/run installs it',
  );
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no warning either');
});

test('without tenantOf or cost, nothing is attributed; bad cost options throw', async () => {
  const app = Fastify();
  await app.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false });
  app.get('/plain', async () => ({ ok: true }));
  await app.inject({ url: '/plain' });
  assert.doesNotMatch(await metrics(app), /headroom_tenant_/);
  const bad = Fastify();
  await assert.rejects(async () => {
    await bad.register(headroom, { service: 'test', version: '1.0.0', cost: { interval: 0 } });
  }, /cost\.interval/);
});
