// The plugin's overload option: an adaptive limit checked first, so a request beyond it is refused before
// authentication or its body is read, while health, metrics and admin stay reachable.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { adaptiveLimit } from '@headroom/core/policy';
import Fastify from 'fastify';
import { pino } from 'pino';
import { headroom, type OverloadOptions, requestIdOptions } from '../src/index.ts';

async function app(limit: ReturnType<typeof adaptiveLimit>, more: Omit<OverloadOptions, 'limit'> = {}) {
  const instance = Fastify();
  await instance.register(headroom, {
    service: 'test',
    version: '1.0.0',
    defaultMetrics: false,
    overload: { limit, retryDelay: 2_000, ...more },
    admin: { authorize: () => ({ role: 'operator' }) },
  });
  const seen = { authenticated: 0, bodies: 0 };
  const gates: (() => void)[] = [];
  instance.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    seen.bodies++;
    done(null, JSON.parse(body as string));
  });
  await instance.register(async (api) => {
    api.addHook('onRequest', async () => {
      seen.authenticated++;
    });
    api.get('/slow', () => new Promise<string>((resolve) => gates.push(() => resolve('done'))));
    api.post('/write', async () => ({ ok: true }));
  });
  return { instance, seen, gates };
}

test('beyond the limit: 503 HR_OVERLOADED at once, before authentication and body; health, metrics, admin still answer', async () => {
  const limit = adaptiveLimit({ name: 'http', initialLimit: 2, clock: new FakeClock() });
  const { instance, seen, gates } = await app(limit);
  const held = [instance.inject('/slow'), instance.inject('/slow')];
  while (gates.length < 2) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(limit.inflight, 2);

  const refused = await instance.inject({ method: 'POST', url: '/write', payload: { a: 1 } });
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(refused.headers['retry-after'], '2');
  assert.equal(refused.headers['cache-control'], 'no-store');
  assert.equal(refused.json().code, 'HR_OVERLOADED');
  assert.equal(refused.json().limiter, 'http');
  assert.equal(refused.json().request_id, refused.headers['x-request-id']);
  assert.equal(refused.json().instance, '/write');
  assert.equal(Number(refused.headers['content-length']), refused.rawPayload.length);
  assert.deepEqual(
    seen,
    { authenticated: 2, bodies: 0 },
    'the refused request was never authenticated or parsed',
  );
  const counted = (await instance.inject('/metrics')).body;
  assert.match(
    counted,
    /http_requests_total\{method="POST",route="\/write",code="503"\} 1/,
    'the refusal is counted',
  );
  const head = await instance.inject({ method: 'HEAD', url: '/write' });
  assert.equal(head.statusCode, 503);
  assert.equal(head.body, '', 'HEAD: the refusal has no body');

  for (const url of ['/health/live', '/health/ready', '/metrics', '/admin/bulkheads']) {
    assert.equal((await instance.inject(url)).statusCode, 200, url);
  }
  const metrics = (await instance.inject('/metrics')).body;
  assert.match(metrics, /headroom_concurrency_limit\{limiter="http"\} 2/);
  assert.match(metrics, /headroom_concurrency_inflight\{limiter="http"\} 2/);
  assert.match(
    metrics,
    /headroom_concurrency_rejected_total\{limiter="http",reason="full"\} 2/,
    'both refusals (POST and HEAD) counted by reason',
  );
  const admin = (await instance.inject('/admin/bulkheads')).json();
  assert.equal(admin.data[0].name, 'http');
  assert.equal(admin.data[0].limit, 2);

  for (const open of gates) open();
  assert.deepEqual(
    (await Promise.all(held)).map((r) => r.statusCode),
    [200, 200],
  );
  assert.equal(limit.inflight, 0, 'answered requests gave their slots back');
  assert.equal((await instance.inject({ method: 'POST', url: '/write', payload: { a: 1 } })).statusCode, 200);
  await instance.close();
});

test('saturation: requests overlapping (a quarter of the limit or more) at a loop saturated reading after reading are all refused at once, free slots or not, until a calmer reading', async () => {
  // The event loop's busy and idle milliseconds as the door reads them, scripted: its only time source.
  const loop = { idle: 0, active: 0 };
  const run = (ms: number, busy: number) => {
    loop.active += ms * busy;
    loop.idle += ms * (1 - busy);
  };
  const limit = adaptiveLimit({ name: 'http', initialLimit: 16, clock: new FakeClock() });
  const { instance, seen, gates } = await app(limit, {
    saturation: { above: 0.9, window: 50, readings: 2, utilization: () => ({ ...loop }) },
  });
  const answers: number[] = [];
  const write = async () => {
    const answer = await instance.inject({ method: 'POST', url: '/write', payload: {} });
    answers.push(answer.statusCode);
    return answer;
  };
  const hold = async () => {
    const held = instance.inject('/slow');
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return async () => {
      gates.shift()!();
      assert.equal((await held).statusCode, 200);
    };
  };
  const writes = async (n: number) => {
    let last: Awaited<ReturnType<typeof write>> | undefined;
    for (let i = 0; i < n; i++) last = await write();
    return last!;
  };
  run(50, 1);
  await write(); // saturated, one request at a time: a busy loop, not a queue before the door
  run(50, 1);
  await write();
  let release = await hold();
  await writes(2); // overlapping the held one: fewer than a quarter of what the limit (16) admits at once
  run(50, 1);
  await write(); // a saturated reading, too few overlapping to be a queue (a warming or resumed process)
  await writes(3); // with the one before, four overlap in this window
  run(50, 1);
  await write(); // the first saturated reading of a run
  await writes(3);
  run(50, 1);
  const refused = await write(); // the second in a row: refused, with fifteen slots free
  assert.equal(limit.inflight, 1);
  await write(); // no new reading: still refusing
  assert.equal((await instance.inject('/health/live')).statusCode, 200, 'health passes while it sheds');
  await release();
  run(50, 0.5);
  await write(); // a calm reading ends the run
  release = await hold();
  await writes(4);
  run(400, 1);
  await write(); // a 400 ms pause is one reading, too long to count
  await writes(3);
  run(50, 1);
  await write(); // the first saturated reading of a new run
  await release();
  run(50, 0.5);
  await write();
  assert.deepEqual(answers, [
    ...[200, 200, 200, 200, 200], // one at a time, then too few overlapping
    ...[200, 200, 200, 200, 200, 200, 200], // four overlapping: the first saturated reading
    ...[503, 503], // the second in a row
    ...[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
  ]);
  assert.equal(refused.headers['retry-after'], '2');
  assert.equal(refused.json().code, 'HR_OVERLOADED');
  assert.equal(refused.json().limiter, 'http');
  assert.equal(seen.authenticated, 25, 'two held, 23 answered; the two refused were never authenticated');
  assert.equal(limit.inflight, 0, 'no slot taken by a refusal');
  const metrics = (await instance.inject('/metrics')).body;
  assert.match(metrics, /headroom_concurrency_rejected_total\{limiter="http",reason="saturated"\} 2/);
  await instance.close();
});

test('with a queue: a request waits for a slot up to the deadline, then is refused; a freed slot serves it', async () => {
  const clock = new FakeClock();
  const limit = adaptiveLimit({
    name: 'http',
    initialLimit: 1,
    minLimit: 1,
    maxQueue: 1,
    queueTimeout: 100,
    clock,
  });
  const { instance, gates } = await app(limit);
  const first = instance.inject('/slow');
  while (gates.length < 1) await new Promise((resolve) => setImmediate(resolve));
  const waiting = instance.inject({ method: 'POST', url: '/write', payload: {} });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(limit.queued, 1);
  assert.equal((await instance.inject('/slow')).statusCode, 503, 'queue full: refused at once');
  gates[0]!();
  assert.equal((await waiting).statusCode, 200, 'the freed slot went to the waiter');
  assert.equal((await first).statusCode, 200);

  const second = instance.inject('/slow');
  while (gates.length < 2) await new Promise((resolve) => setImmediate(resolve));
  const late = instance.inject({ method: 'POST', url: '/write', payload: {} });
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(100);
  assert.equal((await late).statusCode, 503, 'past the queue deadline');
  gates[1]!();
  await second;
  const metrics = (await instance.inject('/metrics')).body;
  assert.match(metrics, /headroom_concurrency_rejected_total\{limiter="http",reason="full"\} 1/);
  assert.match(metrics, /headroom_concurrency_rejected_total\{limiter="http",reason="queue-timeout"\} 1/);
  await instance.close();
});

test('a client that goes away frees its slot at once, and its abandoned request teaches the limit nothing', async () => {
  const limit = adaptiveLimit({ name: 'http', initialLimit: 1, minLimit: 1, minSamples: 1, windowMs: 0 });
  const { instance, gates } = await app(limit);
  await instance.listen({ host: '127.0.0.1', port: 0 });
  const { port } = instance.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  while (gates.length < 1) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(limit.inflight, 1);
  socket.destroy();
  while (limit.inflight > 0) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(limit.stats().longRttMs, 0, 'no sample from the abandoned request');
  gates[0]!();
  await instance.close();
});

test('a refusal writes no log line of its own; an answered request still gets its "request completed"', async () => {
  const lines: { msg: string; res?: { statusCode: number } }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const limit = adaptiveLimit({ name: 'http', initialLimit: 1, minLimit: 1, clock: new FakeClock() });
  const instance = Fastify({ loggerInstance: pino({ level: 'info' }, sink), ...requestIdOptions() });
  await instance.register(headroom, {
    service: 'test',
    version: '1.0.0',
    defaultMetrics: false,
    overload: { limit },
  });
  const gates: (() => void)[] = [];
  instance.get('/slow', () => new Promise<string>((resolve) => gates.push(() => resolve('done'))));
  const held = instance.inject('/slow');
  while (gates.length < 1) await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 20; i++) assert.equal((await instance.inject('/slow')).statusCode, 503);
  gates[0]!();
  assert.equal((await held).statusCode, 200);
  const completed = lines.filter((l) => l.msg === 'request completed').map((l) => l.res?.statusCode);
  assert.deepEqual(completed, [200], 'twenty refusals, no completed line for any of them');
  await instance.close();
});

test('answers of 500 and above teach the limit nothing: a failing dependency does not shrink the door', async () => {
  const clock = new FakeClock();
  const limit = adaptiveLimit({ name: 'http', initialLimit: 4, windowMs: 0, minSamples: 1, clock });
  const instance = Fastify();
  await instance.register(headroom, {
    service: 'test',
    version: '1.0.0',
    defaultMetrics: false,
    overload: { limit },
  });
  instance.get('/fails', async (_request, reply) => {
    clock.advance(1_000); // a database that took its whole bound to fail
    return reply.code(503).send({ code: 'HR_DATABASE_UNAVAILABLE' });
  });
  instance.get('/ok', async () => {
    clock.advance(5);
    return 'ok';
  });
  // Over a real socket: the door samples when the response closes having finished.
  const origin = await instance.listen({ host: '127.0.0.1', port: 0 });
  try {
    const answered = async (path: string) => {
      const response = await fetch(`${origin}${path}`);
      await response.text();
      while (limit.inflight > 0) await new Promise((resolve) => setImmediate(resolve));
      return response.status;
    };
    for (let i = 0; i < 10; i++) assert.equal(await answered('/ok'), 200);
    const healthy = limit.stats();
    assert.equal(healthy.longRttMs, 5, 'answered requests are sampled');
    for (let i = 0; i < 20; i++) assert.equal(await answered('/fails'), 503);
    assert.equal(limit.stats().longRttMs, 5, 'no 503 became a sample');
    assert.ok(limit.limit >= healthy.limit, `${healthy.limit} → ${limit.limit}`);
  } finally {
    await instance.close();
  }
});

test('bad overload options reject the registration naming the option', async () => {
  for (const [overload, option] of [
    [{ limit: {} }, 'overload.limit'],
    [{ limit: adaptiveLimit(), retryDelay: -1 }, 'overload.retryDelay'],
    [{ limit: adaptiveLimit(), saturation: { above: 0 } }, 'overload.saturation.above'],
    [{ limit: adaptiveLimit(), saturation: { above: 1.5 } }, 'overload.saturation.above'],
    [{ limit: adaptiveLimit(), saturation: { window: 0 } }, 'overload.saturation.window'],
    [{ limit: adaptiveLimit(), saturation: { readings: 1.5 } }, 'overload.saturation.readings'],
    [{ limit: adaptiveLimit(), saturation: { utilization: 'busy' } }, 'overload.saturation.utilization'],
  ] as const) {
    const instance = Fastify();
    const registering = async () => {
      await instance.register(headroom, {
        service: 'test',
        version: '1.0.0',
        defaultMetrics: false,
        overload,
      } as never);
      await instance.ready();
    };
    await assert.rejects(registering(), new RegExp(`option "${option.replaceAll('.', '\\.')}"`));
  }
});
