import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArrivalCursor, arrivalCount, arrivals } from './schedule.ts';

test('a constant stage spaces arrivals evenly', () => {
  const at = [...arrivals([{ name: 's', durationMs: 1000, rate: 4 }])].map((a) => a.at);
  assert.deepEqual(at, [0, 250, 500, 750]);
});

test('stages follow each other, each arrival tagged with its stage', () => {
  const list = [
    ...arrivals([
      { name: 'a', durationMs: 1000, rate: 2 },
      { name: 'b', durationMs: 500, rate: 4 },
    ]),
  ];
  assert.deepEqual(list, [
    { at: 0, stage: 0 },
    { at: 500, stage: 0 },
    { at: 1000, stage: 1 },
    { at: 1250, stage: 1 },
  ]);
});

test('a ramp delivers the integral of its rate, densest at the end', () => {
  const stages = [{ name: 'ramp', durationMs: 10_000, rate: 10, to: 100 }];
  const list = [...arrivals(stages)];
  assert.equal(list.length, 550); // (10 + 100) / 2 * 10 s
  assert.equal(arrivalCount(stages), 550);
  const firstSecond = list.filter((a) => a.at < 1000).length;
  const lastSecond = list.filter((a) => a.at >= 9000).length;
  assert.ok(Math.abs(firstSecond - 14.5) <= 1, `${firstSecond}`); // ∫0..1 (10 + 9t) dt = 14.5
  assert.ok(Math.abs(lastSecond - 95.5) <= 1, `${lastSecond}`);
  const times = list.map((a) => a.at);
  assert.deepEqual(
    times,
    [...times].sort((x, y) => x - y),
  );
});

test('the cursor walks the same arrivals as the generator, numbered, and stops at the end', () => {
  const stages = [
    { name: 'a', durationMs: 1000, rate: 3 },
    { name: 'empty', durationMs: 500, rate: 0 },
    { name: 'ramp', durationMs: 2000, rate: 2, to: 6 },
  ];
  const cursor = new ArrivalCursor(stages);
  const seen: { at: number; stage: number }[] = [];
  while (cursor.next()) {
    assert.equal(cursor.index, seen.length);
    seen.push({ at: cursor.at, stage: cursor.stage });
  }
  assert.equal(seen.length, arrivalCount(stages));
  assert.deepEqual(seen, [...arrivals(stages)]);
  assert.equal(cursor.next(), false);
});
