// The SLO degrader inside the plugin: fed the answers of the routes its rules watch, its state in /health (a
// warning while features are off), its actions in /metrics, its rules in the admin API.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { createDegrader } from '@headroom/core/slo';
import Fastify from 'fastify';
import { headroom } from '../src/index.ts';

test('a slow route breaches its objective: features off, /health warns, /metrics counts it; fast again: back on', async () => {
  const clock = new FakeClock();
  const app = Fastify();
  await app.register(headroom, {
    service: 's',
    version: '1',
    defaultMetrics: false,
    clock,
    admin: { authorize: () => ({ role: 'operator' }) },
  });
  let delay = 30;
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, delay));
    return { ok: true };
  });
  app.get('/other', async () => ({ ok: true }));
  const switched: string[] = [];
  app.headroom.degrader.add(
    createDegrader({
      clock,
      target: {
        degrade: (feature, change) => switched.push(`off ${feature} (${change.by})`),
        restore: (feature, change) => switched.push(`on ${feature} (${change.by})`),
      },
      rules: [
        {
          name: 'slow-route',
          objective: { name: 'slow', method: 'GET', route: '/slow', latency: { p95: 10 } },
          features: ['reports'],
          breachFor: 0,
          restoreFor: 0,
          minHold: 0,
          minSamples: 5,
        },
      ],
    }),
  );
  await app.ready();
  for (let i = 0; i < 6; i++) await app.inject('/slow');
  for (let i = 0; i < 6; i++) await app.inject('/other');
  await clock.tick(1_000);
  assert.deepEqual(switched, ['off reports (degrader:slow-route)']);
  const health = (await app.inject('/health')).json();
  assert.equal(health.status, 'warn');
  assert.match(health.checks['degrader:state'][0].output, /slow-route \(degraded\): reports off/);
  const metrics = (await app.inject('/metrics')).body;
  assert.match(metrics, /headroom_degrader_actions_total\{rule="slow-route",action="degrade"\} 1/);
  assert.match(metrics, /headroom_degrader_state\{rule="slow-route",state="degraded"\} 1/);
  const rules = (await app.inject('/admin/degrader')).json().data;
  assert.equal(rules[0].state, 'degraded');
  assert.equal(rules[0].reading.overBudget.p95, 1);

  delay = 0;
  await clock.tick(11_000); // the slow answers leave the 10 s window
  for (let i = 0; i < 6; i++) await app.inject('/slow');
  await clock.tick(1_000);
  assert.deepEqual(switched.at(-1), 'on reports (degrader:slow-route)');
  assert.equal((await app.inject('/health')).json().checks['degrader:state'][0].status, 'pass');
  await app.close();
  assert.equal(clock.pending, 0, 'the degrader stops with the app');
});
