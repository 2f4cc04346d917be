import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from './metric-series.ts';

// The families must print exactly what prom-client's own metrics print for the same observations.
async function exposition(register: (registry: Registry) => void): Promise<string> {
  const registry = new Registry();
  register(registry);
  return registry.metrics();
}

test('a histogram family prints what a prom-client histogram prints', async () => {
  const buckets = [0.001, 0.01, 0.1, 1];
  const values = [0.0005, 0.001, 0.002, 0.05, 0.5, 3, 0.001];
  const options = { name: 'h_seconds', help: 'help "quoted"\\', labelNames: ['route', 'code'] as const };
  const ours = await exposition((registry) => {
    const family = new HistogramFamily({ ...options, buckets, registers: [registry] });
    const a = family.labels('/a', 200);
    const b = family.labels('/b', 500);
    for (const v of values) a.observe(v);
    b.observe(0.02);
    assert.equal(family.labels('/a', 200), a, 'the same labels give the same handle');
  });
  const theirs = await exposition((registry) => {
    const histogram = new Histogram({ ...options, buckets, registers: [registry] });
    for (const v of values) histogram.observe({ route: '/a', code: 200 }, v);
    histogram.observe({ route: '/b', code: 500 }, 0.02);
  });
  assert.equal(ours, theirs);
});

test('a counter family prints what a prom-client counter prints, and reset forgets the series', async () => {
  const options = { name: 'c_total', help: 'c', labelNames: ['policy', 'result'] as const };
  const registry = new Registry();
  const family = new CounterFamily({ ...options, registers: [registry] });
  family.labels('pro', 'allowed').inc();
  family.labels('pro', 'allowed').inc(2);
  family.labels('free', 'limited').inc();
  const theirs = await exposition((r) => {
    const counter = new Counter({ ...options, registers: [r] });
    counter.inc({ policy: 'pro', result: 'allowed' }, 3);
    counter.inc({ policy: 'free', result: 'limited' });
  });
  assert.equal(await registry.metrics(), theirs);
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /c_total\{/);
});
