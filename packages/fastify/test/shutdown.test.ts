// Graceful shutdown on a fake clock, with signals from an emitter and exit captured: readiness 503 at once while
// requests are still served (each closing its connection), the listener closing after the delay, the app's
// onClose hooks then the steps in order, exit 0; a second signal or the deadline exits 1 at once.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import Fastify from 'fastify';
import { headroom } from '../src/index.ts';

async function start(clock: FakeClock) {
  const app = Fastify();
  await app.register(headroom, {
    service: 's',
    version: '1',
    defaultMetrics: false,
    clock,
    drainTimeout: 1_000,
  });
  app.get('/work', async () => ({ ok: true }));
  const order: string[] = [];
  app.addHook('onClose', async () => {
    order.push('onClose');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const signals = new EventEmitter();
  const exits: number[] = [];
  return { app, origin, signals, exits, order };
}

/** Lets I/O and promise callbacks run (no clock involved). */
const turn = () => new Promise((resolve) => setTimeout(resolve, 20));

test('SIGTERM: readiness 503 at once, serving on with Connection: close for the delay, then close, hooks, steps, exit 0', async () => {
  const clock = new FakeClock();
  const { app, origin, signals, exits, order } = await start(clock);
  const shutdown = app.headroom.shutdown({
    delay: 5_000,
    signalSource: signals,
    exit: (code) => exits.push(code),
    steps: [
      { name: 'pool', run: async () => order.push('pool') },
      {
        name: 'broken',
        run: () => {
          throw new Error('already closed');
        },
      },
      { name: 'redis', run: async () => order.push('redis') },
    ],
  });
  assert.equal((await fetch(`${origin}/health/ready`)).status, 200);
  signals.emit('SIGTERM');
  await turn();
  assert.equal(shutdown.state, 'draining');
  const ready = await fetch(`${origin}/health/ready`);
  assert.equal(ready.status, 503);
  assert.match(JSON.stringify(await ready.json()), /shutting down/);
  const work = await fetch(`${origin}/work`);
  assert.equal(work.status, 200, 'still serving during the delay');
  assert.equal(work.headers.get('connection'), 'close');
  assert.equal(app.server.listening, true);

  await clock.tick(5_000);
  for (let i = 0; i < 50 && exits.length === 0; i++) await turn();
  assert.equal(app.server.listening, false);
  assert.deepEqual(order, ['onClose', 'pool', 'redis'], 'the app closes first, then the steps in order');
  assert.deepEqual(exits, [0]);
  assert.equal(shutdown.state, 'stopped');
  await assert.rejects(fetch(`${origin}/work`), 'the listener is closed');
  shutdown.dispose();
});

test('a second signal during the shutdown exits 1 at once', async () => {
  const clock = new FakeClock();
  const { app, signals, exits } = await start(clock);
  const shutdown = app.headroom.shutdown({
    delay: 60_000,
    signalSource: signals,
    exit: (code) => exits.push(code),
  });
  signals.emit('SIGTERM');
  await turn();
  signals.emit('SIGINT');
  assert.deepEqual(exits, [1]);
  shutdown.dispose();
  await app.close();
});

test('the deadline exits 1 whatever still hangs', async () => {
  const clock = new FakeClock();
  const { app, signals, exits } = await start(clock);
  const shutdown = app.headroom.shutdown({
    delay: 0,
    deadline: 3_000,
    signalSource: signals,
    exit: (code) => exits.push(code),
    steps: [{ name: 'hung', run: () => new Promise(() => {}) }],
  });
  signals.emit('SIGTERM');
  for (let i = 0; i < 50 && app.server.listening; i++) await turn();
  assert.deepEqual(exits, [], 'waiting on the hung step');
  await clock.tick(3_000);
  assert.deepEqual(exits, [1]);
  shutdown.dispose();
});
