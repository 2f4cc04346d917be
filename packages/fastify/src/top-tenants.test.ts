import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopTenants, tenantLabelValue } from './top-tenants.ts';

// A deterministic stream: tenant i of n has weight 1/(i+1)^1.5 (Zipf), drawn with a seeded generator.
function zipf(n: number, seed: number): () => string {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += 1 / (i + 1) ** 1.5;
    cumulative[i] = total;
  }
  let state = seed;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
  return () => {
    const r = random() * total;
    let [lo, hi] = [0, n - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return `t${lo}`;
  };
}

test('top 0: every tenant is "all", and nothing is counted', () => {
  const tenants = new TopTenants({ top: 0 });
  tenants.observe('acme');
  assert.equal(tenants.label('acme'), 'all');
  assert.equal(tenants.size, 0);
  assert.deepEqual(tenants.rank(), []);
});

test('free places go to tenants as they come; the rest are "other" until a rank', () => {
  const tenants = new TopTenants({ top: 2 });
  tenants.observe('a');
  tenants.observe('b');
  tenants.observe('b');
  for (let i = 0; i < 100; i++) tenants.observe('c');
  assert.deepEqual(
    ['a', 'b', 'c'].map((t) => tenants.label(t)),
    ['a', 'b', 'other'],
  );
  const generation = tenants.generation;
  assert.deepEqual(tenants.rank().sort(), ['a']);
  assert.equal(tenants.label('c'), 'c');
  assert.equal(tenants.label('a'), 'other');
  assert.ok(tenants.generation > generation, 'a changed set bumps the generation');
});

test('a challenger needs more than the hysteresis margin: near-equal tenants do not flap', () => {
  const tenants = new TopTenants({ top: 1 });
  tenants.observe('a'); // takes the free place
  let changes = 0;
  for (let round = 0; round < 50; round++) {
    // The two alternate being slightly busier, by 10%: under the 25% margin.
    const [more, less] = round % 2 === 0 ? ['b', 'a'] : ['a', 'b'];
    for (let i = 0; i < 110; i++) tenants.observe(more);
    for (let i = 0; i < 100; i++) tenants.observe(less);
    changes += tenants.rank().length;
  }
  assert.equal(changes, 0);
  assert.equal(tenants.label('a'), 'a');
  // Twice as busy, steadily: takes the place at the next rank, and keeps it.
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 200; i++) tenants.observe('b');
    for (let i = 0; i < 100; i++) tenants.observe('a');
    changes += tenants.rank().length;
  }
  assert.equal(changes, 1);
  assert.equal(tenants.label('b'), 'b');
});

test('counts decay: a tenant that went quiet is overtaken', () => {
  const tenants = new TopTenants({ top: 1 });
  for (let i = 0; i < 10_000; i++) tenants.observe('old');
  tenants.rank();
  for (let round = 0; round < 12; round++) {
    for (let i = 0; i < 100; i++) tenants.observe('new');
    tenants.rank();
  }
  assert.equal(tenants.label('new'), 'new');
  assert.equal(tenants.label('old'), 'other');
});

test('memory stays at capacity however many tenants, and the true heavy hitters are labelled', () => {
  const tenants = new TopTenants({ top: 5 });
  const next = zipf(100_000, 7);
  for (let i = 0; i < 300_000; i++) tenants.observe(next());
  assert.equal(tenants.size, tenants.capacity);
  assert.equal(tenants.capacity, 64);
  tenants.rank();
  // In a Zipf stream the first five are the five busiest, each well above 1/capacity of the requests.
  assert.deepEqual([...tenants.labelled].sort(), ['t0', 't1', 't2', 't3', 't4']);
  // A long tail of one-off tenants cannot push them out: each newcomer's guaranteed count is tiny.
  for (let i = 0; i < 50_000; i++) tenants.observe(`once-${i}`);
  tenants.rank();
  assert.deepEqual([...tenants.labelled].sort(), ['t0', 't1', 't2', 't3', 't4']);
});

test('bad options throw, naming the option', () => {
  assert.throws(() => new TopTenants({ top: -1 }), /"top"/);
  assert.throws(() => new TopTenants({ top: 10, capacity: 5 }), /"capacity"/);
  assert.throws(() => new TopTenants({ top: 1, hysteresis: 0.5 }), /"hysteresis"/);
  assert.throws(() => new TopTenants({ top: 1, decay: 0 }), /"decay"/);
});

test('a tenant id becomes a bounded label value', () => {
  assert.equal(tenantLabelValue('acme-42'), 'acme-42');
  assert.equal(tenantLabelValue('42'), '42');
  assert.equal(tenantLabelValue(undefined), 'anonymous');
  assert.equal(tenantLabelValue(''), 'anonymous');
  assert.equal(tenantLabelValue('a"b\\c\nd é'), 'a_b_c_d__');
  const long = tenantLabelValue('x'.repeat(10_000));
  assert.equal(long, 'x'.repeat(64));
  assert.match(tenantLabelValue('{}'.repeat(100)), /^[_]{64}$/);
});
