import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  CounterFamily,
  defaultMaxSeries,
  guardSeries,
  HistogramFamily,
  overflowLabel,
} from './metric-series.ts';

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

test('a full family answers new label sets with one overflow series and counts each refusal', async () => {
  const registry = new Registry();
  const guard = guardSeries(registry, 2);
  const total = new CounterFamily({
    name: 'r_total',
    help: 'r',
    labelNames: ['route', 'code'] as const,
    registers: [registry],
  });
  const a = total.labels('/a', 200);
  total.labels('/b', 200).inc();
  const c = total.labels('/c', 500);
  const d = total.labels('/d', 200);
  assert.equal(c, d, 'every refused label set shares the overflow series');
  a.inc();
  c.inc(3);
  d.inc();
  assert.equal(total.labels('/a', 200), a, 'a label set it holds keeps its own series');
  const text = await registry.metrics();
  assert.match(text, /^r_total\{route="\/a",code="200"\} 1$/m);
  assert.match(text, /^r_total\{route="__overflow__",code="__overflow__"\} 4$/m, 'the totals stay whole');
  assert.doesNotMatch(text, /route="\/c"|route="\/d"/);
  assert.match(text, /^headroom_metric_series_dropped_total\{metric="r_total"\} 2$/m);
  assert.equal(guard.maxSeries, 2);
  total.labels('/e', 200);
  total.labels('/f', 200);
  assert.equal((await registry.metrics()).match(/^r_total\{/gm)?.length, 3, 'at most maxSeries + 1 series');
});

test('a histogram family under a guard: drops start at 0, the overflow series keeps its buckets', async () => {
  const registry = new Registry();
  guardSeries(registry, 1);
  const h = new HistogramFamily({
    name: 'h_seconds',
    help: 'h',
    labelNames: ['route'] as const,
    buckets: [0.1, 1],
    registers: [registry],
  });
  assert.match(await registry.metrics(), /^headroom_metric_series_dropped_total\{metric="h_seconds"\} 0$/m);
  h.labels('/a').observe(0.05);
  h.labels('/b').observe(0.5);
  const text = await registry.metrics();
  assert.match(text, /^h_seconds_bucket\{le="1",route="__overflow__"\} 1$/m);
  assert.match(text, /^h_seconds_count\{route="__overflow__"\} 1$/m);
  assert.match(text, /^headroom_metric_series_dropped_total\{metric="h_seconds"\} 1$/m);
});

test('without a guard a family holds 10000 label sets, or its own maxSeries; bad limits throw', () => {
  const plain = new CounterFamily({ name: 'p_total', help: 'p', labelNames: ['id'] as const });
  for (let i = 0; i < defaultMaxSeries + 5; i++) plain.labels(i).inc();
  assert.equal(plain.get().values.length, defaultMaxSeries + 1);
  const own = new CounterFamily({ name: 'o_total', help: 'o', labelNames: ['id'] as const, maxSeries: 3 });
  for (let i = 0; i < 10; i++) own.labels(i).inc();
  assert.deepEqual(
    own.get().values.map((v) => v.labels.id),
    ['0', '1', '2', overflowLabel].map((v) => (v === overflowLabel ? v : Number(v))),
  );
  assert.throws(() => guardSeries(new Registry(), 0), /maxSeries/);
  assert.throws(
    () => new CounterFamily({ name: 'x_total', help: 'x', labelNames: [], maxSeries: 1.5 }),
    /maxSeries/,
  );
});

test('remove forgets one series and frees its place', async () => {
  const registry = new Registry();
  guardSeries(registry, 1);
  const total = new CounterFamily({
    name: 't_total',
    help: 't',
    labelNames: ['tenant'] as const,
    registers: [registry],
  });
  total.labels('a').inc();
  total.remove('a');
  total.labels('b').inc(2);
  const text = await registry.metrics();
  assert.doesNotMatch(text, /tenant="a"|tenant="__overflow__"/);
  assert.match(text, /^t_total\{tenant="b"\} 2$/m);
});
