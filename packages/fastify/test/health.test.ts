// Health endpoints: liveness without I/O, bounded readiness, and a summary with version and checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import Fastify from 'fastify';
import { type HeadroomOptions, headroom, type ReadinessResult } from '../src/index.ts';

async function buildApp(options: Partial<HeadroomOptions> = {}) {
  const app = Fastify();
  await app.register(headroom, { service: 'casebook', version: '0.1.0', defaultMetrics: false, ...options });
  return app;
}

const down: ReadinessResult = {
  ready: false,
  checks: { database: { status: 'fail', output: 'connection refused' } },
};
const up: ReadinessResult = { ready: true, checks: { database: { status: 'pass' } } };

/** The app's own checks of an answer, without the plugin's process checks (eventloop:delay, memory:utilization). */
function own(checks: Record<string, unknown>): Record<string, unknown> {
  const { 'eventloop:delay': _loop, 'memory:utilization': _memory, ...rest } = checks;
  return rest;
}

test('liveness always passes and never calls readiness', async () => {
  let calls = 0;
  const app = await buildApp({
    readiness: () => {
      calls++;
      return down;
    },
  });
  const res = await app.inject({ method: 'GET', url: '/health/live' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/health+json; charset=utf-8');
  assert.deepEqual(res.json(), { status: 'pass' });
  assert.equal(calls, 0);
});

test('readiness goes from 503 HR_NOT_READY with the checks to 200 when the dependency comes up', async () => {
  let state = down;
  const app = await buildApp({ readiness: async () => state });
  const before = await app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(before.statusCode, 503);
  assert.equal(before.headers['content-type'], 'application/problem+json; charset=utf-8');
  const problem = before.json();
  assert.equal(problem.code, 'HR_NOT_READY');
  assert.equal(problem.detail, 'casebook is not ready: database failing');
  assert.deepEqual(own(problem.checks), {
    'database:status': [{ status: 'fail', output: 'connection refused' }],
  });
  state = up;
  const after = await app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(after.statusCode, 200);
  assert.equal(after.headers['content-type'], 'application/health+json; charset=utf-8');
  assert.equal(after.json().status, 'pass');
  assert.deepEqual(own(after.json().checks), { 'database:status': [{ status: 'pass' }] });
});

test('/health says pass, warn (ready but degraded: a check warns) or fail', async () => {
  let state: ReadinessResult = up;
  const app = await buildApp({ readiness: async () => state });
  assert.equal((await app.inject('/health')).json().status, 'pass');
  state = {
    ready: true,
    checks: { database: { status: 'pass' }, 'cache:l2': { status: 'warn', output: 'Redis unreachable' } },
  };
  const degraded = await app.inject('/health');
  assert.equal(degraded.statusCode, 200);
  assert.equal(degraded.json().status, 'warn');
  assert.equal((await app.inject('/health/ready')).statusCode, 200, 'degraded is still ready');
  state = down;
  const failing = await app.inject('/health');
  assert.equal(failing.statusCode, 503);
  assert.equal(failing.json().status, 'fail');
});

test('a readiness check that throws means not ready, never a 500, and its message stays in the log', async () => {
  const logs: { level: number; err?: { message: string } }[] = [];
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } },
  });
  await app.register(headroom, {
    service: 'casebook',
    version: '0.1.0',
    defaultMetrics: false,
    readiness: async () => {
      throw new Error('password authentication failed for user "casebook"');
    },
  });
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().code, 'HR_NOT_READY');
  assert.equal(res.json().checks['readiness:status'][0].status, 'fail');
  assert.ok(!res.body.includes('password'));
  assert.ok(logs.some((line) => line.level === 40 && line.err?.message.includes('password')));
});

test('probes and scrapes log nothing below warn', async () => {
  const logs: unknown[] = [];
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(line) } },
  });
  await app.register(headroom, { service: 'casebook', version: '0.1.0', defaultMetrics: false });
  await app.ready();
  logs.length = 0;
  for (const url of ['/health/live', '/health/ready', '/health', '/metrics'])
    await app.inject({ method: 'GET', url });
  assert.deepEqual(logs, []);
});

test('a readiness check that hangs past readinessTimeout is not ready, and its signal aborts', async () => {
  const clock = new FakeClock();
  let signal: AbortSignal | undefined;
  let called: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    called = resolve;
  });
  const app = await buildApp({
    clock,
    readinessTimeout: 50,
    readiness: (s) => {
      signal = s;
      called();
      return new Promise<ReadinessResult>(() => {});
    },
  });
  const pending = app.inject({ method: 'GET', url: '/health/ready' });
  await started;
  clock.advance(50);
  const res = await pending;
  assert.equal(res.statusCode, 503);
  assert.match(res.json().checks['readiness:status'][0].output, /50 ms/);
  assert.equal(signal?.aborted, true);
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('the timeout also works on the real clock', async () => {
  const app = await buildApp({
    readinessTimeout: 50,
    readiness: () => new Promise<ReadinessResult>(() => {}),
  });
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(res.statusCode, 503);
});

test('the old readinessTimeoutMs and drainMs still work for one release, with DeprecationWarnings', async (t) => {
  const warned = t.mock.method(process, 'emitWarning', () => {});
  const app = await buildApp({
    readinessTimeoutMs: 50,
    drainMs: 1_000,
    readiness: () => new Promise<ReadinessResult>(() => {}),
  });
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(res.statusCode, 503);
  assert.match(res.json().checks['readiness:status'][0].output, /50 ms/, 'the old name set the timeout');
  const messages = warned.mock.calls.map((c) => String(c.arguments[0]));
  assert.ok(messages.some((m) => /"readinessTimeoutMs" is deprecated .* use "readinessTimeout"/.test(m)));
  assert.ok(messages.some((m) => /"drainMs" is deprecated .* use "drainTimeout"/.test(m)));
});

test('a fast readiness check leaves no timer behind', async () => {
  const clock = new FakeClock();
  const app = await buildApp({ clock, readiness: () => up });
  assert.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200);
  assert.equal(clock.pending, 0);
});

test('without a readiness option the service is always ready', async () => {
  const app = await buildApp();
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().status, 'pass');
  assert.deepEqual(own(res.json().checks), {});
});

test('/health sums it up with service, version and checks, 503 when failing', async () => {
  let state = down;
  const app = await buildApp({ readiness: () => state });
  const failing = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(failing.statusCode, 503);
  assert.equal(failing.headers['content-type'], 'application/health+json; charset=utf-8');
  const { checks: failingChecks, ...failingBody } = failing.json();
  assert.deepEqual(failingBody, { status: 'fail', version: '0.1.0', service: 'casebook' });
  assert.deepEqual(own(failingChecks), {
    'database:status': [{ status: 'fail', output: 'connection refused' }],
  });
  state = up;
  const passing = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(passing.statusCode, 200);
  const { checks: passingChecks, ...passingBody } = passing.json();
  assert.deepEqual(passingBody, { status: 'pass', version: '0.1.0', service: 'casebook' });
  assert.deepEqual(own(passingChecks), { 'database:status': [{ status: 'pass' }] });
});

test('checks in the draft shape: measured values with their unit and time; the event loop and the heap are checked', async () => {
  const clock = new FakeClock({ now: Date.parse('2026-12-05T10:00:00Z') });
  const app = await buildApp({
    clock,
    health: { eventLoopDelayWarn: 0, memoryWarn: 0 },
    readiness: () => ({
      ready: true,
      checks: {
        'database:responseTime': {
          status: 'pass',
          observedValue: 3,
          observedUnit: 'ms',
          componentType: 'datastore',
        },
      },
    }),
  });
  await new Promise((resolve) => setTimeout(resolve, 60)); // a few event-loop delay samples
  const res = await app.inject('/health');
  const { checks } = res.json();
  assert.deepEqual(checks['database:responseTime'], [
    {
      status: 'pass',
      observedValue: 3,
      observedUnit: 'ms',
      componentType: 'datastore',
      time: '2026-12-05T10:00:00.000Z',
    },
  ]);
  assert.equal(checks['memory:utilization'][0].observedUnit, 'percent');
  assert.equal(checks['memory:utilization'][0].status, 'warn', 'over a limit of 0');
  assert.match(checks['memory:utilization'][0].output, /heap \d+% of its limit/);
  assert.equal(checks['eventloop:delay'][0].observedUnit, 'ms');
  assert.equal(res.json().status, 'warn', 'the worst check: degraded, still 200');
  assert.equal(res.statusCode, 200);
  const calm = await buildApp({ readiness: () => up });
  assert.equal((await calm.inject('/health')).json().checks['memory:utilization'][0].status, 'pass');
});

test('the worst check decides: a failing check makes /health fail (503) even when readiness says ready', async () => {
  const app = await buildApp({
    readiness: () => ({
      ready: true,
      checks: { database: { status: 'pass' }, archive: { status: 'fail', output: 'disk full' } },
    }),
  });
  const res = await app.inject('/health');
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().status, 'fail');
  assert.equal((await app.inject('/health/ready')).statusCode, 200, "readiness is the app's own verdict");
});

test('health routes are measured like any other route', async () => {
  const app = await buildApp();
  await app.inject({ method: 'GET', url: '/health/live' });
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /http_requests_total\{method="GET",route="\/health\/live",code="200"\} 1/);
});

test('bad options are rejected with a message that names the option', async () => {
  await assert.rejects(buildApp({ service: '' }), /option "service"/);
  await assert.rejects(buildApp({ readinessTimeout: 0 }), /option "readinessTimeout"/);
  await assert.rejects(buildApp({ metricsPath: 'metrics' }), /option "metricsPath"/);
});
