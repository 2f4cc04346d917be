import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../engine/random.ts';
import { bootstrapRatio, mannWhitney, median } from './statistics.ts';

test('median', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('Mann-Whitney: exact p for small samples, known values', () => {
  // Complete separation with 3 vs 3: p = 2 / C(6,3) = 0.1.
  assert.deepEqual(mannWhitney([1, 2, 3], [4, 5, 6]), { u: 0, p: 0.1 });
  // 5 vs 5 separated: 2 / 252.
  assert.ok(Math.abs(mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p - 2 / 252) < 1e-12);
  // Identical groups: nothing to see.
  assert.equal(mannWhitney([1, 2, 3], [1, 2, 3]).p, 1);
});

test('Mann-Whitney: the normal approximation for larger samples separates shifted from overlapping groups', () => {
  const a = Array.from({ length: 12 }, (_, i) => i);
  const shifted = mannWhitney(
    a,
    a.map((v) => v + 6),
  ).p;
  const overlapping = mannWhitney(
    a,
    a.map((v) => v + 1),
  ).p;
  assert.ok(shifted < 0.01, `shifted p = ${shifted}`);
  assert.ok(overlapping > 0.5, `overlapping p = ${overlapping}`);
});

test('bootstrap: a 20% slower candidate has a CI around 1.2 that excludes 1', () => {
  const base = [100, 102, 98, 101, 99, 100];
  const cand = base.map((v) => v * 1.2);
  const ci = bootstrapRatio(base, cand, { random: seededRandom(7) });
  assert.ok(Math.abs(ci.estimate - 1.2) < 1e-9);
  assert.ok(ci.low > 1.1 && ci.high < 1.3, JSON.stringify(ci));
  const again = bootstrapRatio(base, cand, { random: seededRandom(7) });
  assert.deepEqual(again, ci, 'deterministic for a seed');
});
