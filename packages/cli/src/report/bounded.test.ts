import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunResult } from '../engine/run.ts';
import { stageTable } from '../gate/stage-table.ts';
import { RouteStats } from '../stats/route-stats.ts';
import { maxMs } from './bounded.ts';

// HDR answers a percentile with the top of its bucket: with 3 significant digits that is up to 0.1% above
// the largest sample, and a table printed a p99 above the max.
const cells = Array.from({ length: 50 }, (_, n) => {
  const cell = new RouteStats('steady', `GET /r${n}`);
  for (let i = 0; i < 40 + n; i++)
    cell.record({ intendedMs: 0, sentMs: 0, doneMs: 1 + ((i * 7919 + n * 104729) % 20_000) / 1000 });
  return cell;
});

test('the histogram alone can answer a p99 above the max; RouteStats.percentileMs never does', () => {
  assert.ok(
    cells.some((c) => c.corrected.getValueAtPercentile(99) / 1000 > maxMs(c)),
    'the fixture shows the raw behaviour this guards against',
  );
  for (const cell of cells)
    for (const p of [50, 95, 99, 99.9, 100])
      assert.ok(cell.percentileMs(p) <= maxMs(cell), `${cell.route} p${p}`);
});

test('the stage table prints no percentile above its max', () => {
  const result = { stages: [{ name: 'steady' }], cells } as unknown as RunResult;
  const rows = stageTable(result).split('\n').slice(2);
  assert.equal(rows.length, cells.length);
  for (const row of rows) {
    const [p50, p95, p99, max] = row.split('|').slice(5, 9).map(Number);
    assert.ok(p50! <= p95! && p95! <= p99! && p99! <= max!, row);
  }
});
