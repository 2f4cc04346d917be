import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteStats } from './route-stats.ts';

test('corrected latency counts from the intended start, raw from the send', () => {
  const cell = new RouteStats('peak', 'GET /x');
  // Sent 400 ms late (the generator was blocked), answered in 10 ms.
  cell.record({ intendedMs: 0, sentMs: 400, doneMs: 410, status: 200 });
  assert.ok(Math.abs(cell.percentileMs(50) - 410) < 1);
  assert.ok(Math.abs(cell.percentileMs(50, 'raw') - 10) < 0.1);
});

test('error share counts 5xx and network errors, not 4xx', () => {
  const cell = new RouteStats('s', 'GET /x');
  for (const status of [200, 200, 404, 503, undefined])
    cell.record({ intendedMs: 0, sentMs: 0, doneMs: 1, status });
  assert.equal(cell.count, 5);
  assert.equal(cell.errorShare, 2 / 5);
  assert.deepEqual(cell.status, { '2xx': 2, '4xx': 1, '5xx': 1 });
});

test('JSON round trip and merge are exact', () => {
  const a = new RouteStats('s', 'GET /x');
  const b = new RouteStats('s', 'GET /x');
  for (let i = 1; i <= 1000; i++) a.record({ intendedMs: 0, sentMs: 0, doneMs: i, status: 200 });
  for (let i = 1001; i <= 2000; i++) b.record({ intendedMs: 0, sentMs: 0, doneMs: i, status: 500 });
  const merged = RouteStats.fromJSON(JSON.parse(JSON.stringify(a)));
  merged.merge(RouteStats.fromJSON(JSON.parse(JSON.stringify(b))));
  const direct = new RouteStats('s', 'GET /x');
  direct.merge(a);
  direct.merge(b);
  assert.equal(merged.count, 2000);
  for (const p of [50, 95, 99, 99.9]) assert.equal(merged.percentileMs(p), direct.percentileMs(p));
  assert.equal(merged.errorShare, 0.5);
});

test('phases from Server-Timing: only those that ran are recorded; JSON round trip, merge and reset keep them', () => {
  const names = ['auth', 'db'];
  const a = new RouteStats('s', 'GET /x');
  for (let i = 1; i <= 100; i++) a.addPhases(names, Float64Array.of(0.5, i % 2 ? i / 10 : Number.NaN));
  assert.equal(a.timed, 100);
  assert.equal(a.phaseCount('auth'), 100);
  assert.equal(a.phaseCount('db'), 50, 'a cache hit runs no query: not a 0 ms query');
  assert.equal(a.phaseCount('cache'), 0);
  assert.equal(a.phasePercentileMs('auth', 95), 0.5);
  assert.ok(Math.abs(a.phasePercentileMs('db', 50) - 4.9) < 0.01, `${a.phasePercentileMs('db', 50)}`);
  const copy = RouteStats.fromJSON(JSON.parse(JSON.stringify(a)));
  assert.equal(copy.timed, 100);
  assert.equal(copy.phasePercentileMs('db', 95), a.phasePercentileMs('db', 95));
  copy.merge(a);
  assert.equal(copy.timed, 200);
  assert.equal(copy.phaseCount('db'), 100);
  copy.reset();
  assert.deepEqual([copy.timed, copy.phaseCount('db')], [0, 0]);
  // A route the generator read no header of keeps its artifact as it was.
  assert.equal(JSON.parse(JSON.stringify(new RouteStats('s', 'GET /y'))).phases, undefined);
});
