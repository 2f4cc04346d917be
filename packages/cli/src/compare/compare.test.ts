import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runArtifact } from '../../test/support/run-artifact.ts';
import type { RunArtifact } from '../artifact.ts';
import { seededRandom } from '../engine/random.ts';
import { RouteStats } from '../stats/route-stats.ts';
import { compareRuns, mergeShards, routesOf } from './compare.ts';

/** A run whose one route answers in `scale` × a fixed, noisy latency shape (most fast, a slow tail). */
function run(scale: number, seed: number): RunArtifact {
  const random = seededRandom(seed);
  const cell = new RouteStats('steady', 'GET /x');
  for (let i = 0; i < 3000; i++) {
    const base = random() < 0.03 ? 40 + random() * 60 : 5 + random() * 5;
    cell.record({ intendedMs: 0, sentMs: 0, doneMs: base * scale * (0.97 + random() * 0.06), status: 200 });
  }
  return runArtifact([cell]);
}
const runs = (scale: number, from: number, n = 5) =>
  Array.from({ length: n }, (_, i) => run(scale, from + i));

test('a 30% slower candidate is a regression', () => {
  const [row] = compareRuns(runs(1, 1), runs(1.3, 100));
  assert.equal(row?.verdict, 'regression');
  assert.ok(row!.metrics[0]!.ratio.low > 1.1);
  assert.ok(row!.medianShiftP < 0.05);
});

test('the same code measured again is no change; a 30% faster one is an improvement', () => {
  assert.equal(compareRuns(runs(1, 1), runs(1, 200))[0]?.verdict, 'no change');
  assert.equal(compareRuns(runs(1, 1), runs(0.7, 300))[0]?.verdict, 'improvement');
});

test('one run a side is inconclusive, whatever it shows', () => {
  const [row] = compareRuns([run(1, 1)], [run(2, 2)]);
  assert.equal(row?.verdict, 'inconclusive');
  assert.match(row?.note ?? '', /runs on each side/);
});

test('shards merge exactly', () => {
  const a = run(1, 1);
  const b = run(1, 2);
  const merged = routesOf(mergeShards([a, b])).get('GET /x')!;
  const direct = new RouteStats('x', 'GET /x');
  direct.merge(routesOf(a).get('GET /x')!);
  direct.merge(routesOf(b).get('GET /x')!);
  assert.equal(merged.count, 6000);
  for (const p of [50, 95, 99]) assert.equal(merged.percentileMs(p), direct.percentileMs(p));
});
