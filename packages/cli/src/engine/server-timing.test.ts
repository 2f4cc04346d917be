import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerTimingPhases } from './server-timing.ts';

const phases = new ServerTimingPhases(['auth', 'ratelimit', 'db', 'serialize']);

function read(value: string): number[] {
  const into = new Float64Array(phases.names.length).fill(Number.NaN);
  // Stale bytes around the value, as in a reused read buffer: only [from, to) may be read.
  const stale = 'db;dur=999, ';
  const bytes = Buffer.from(`${stale}${value}, db;dur=999`, 'latin1');
  phases.read(bytes, stale.length, stale.length + value.length, into);
  return [...into];
}

test('each budgeted phase gets its dur in ms; absent phases stay NaN (they did not run)', () => {
  assert.deepEqual(
    read('auth;dur=1.2, ratelimit;dur=0.1, db;dur=3.4, serialize;dur=0.5'),
    [1.2, 0.1, 3.4, 0.5],
  );
  assert.deepEqual(read('db;dur=20'), [Number.NaN, Number.NaN, 20, Number.NaN]);
  assert.deepEqual(read(''), [Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
});

test('the W3C grammar: other metrics, descriptions, quoted values, spaces, repeated names, case of dur', () => {
  assert.deepEqual(
    read(
      'total;dur=50, cdn-cache;desc=HIT, db ; desc="select, \\"x\\"" ; DUR = 2.5 ,auth;dur="1.5",db;dur=1',
    ),
    [1.5, Number.NaN, 3.5, Number.NaN],
  );
  // A name that only starts like a phase is another metric.
  assert.deepEqual(read('dbx;dur=7, au;dur=1'), [Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
});

test('a metric with no dur, or one that is not a number, ran for 0 ms, as the standard reads it', () => {
  assert.deepEqual(read('auth, db;dur=abc, serialize;dur=-1'), [0, Number.NaN, 0, 0]);
});
