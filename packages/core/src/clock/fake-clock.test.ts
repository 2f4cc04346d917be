import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from './fake-clock.ts';

test('timers fire in time order when the clock advances, never before', () => {
  const clock = new FakeClock({ now: 1000 });
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b'), 200);
  clock.setTimeout(() => fired.push('a'), 100);
  clock.advance(99);
  assert.deepEqual(fired, []);
  clock.advance(1);
  assert.deepEqual(fired, ['a']);
  clock.advance(500);
  assert.deepEqual(fired, ['a', 'b']);
  assert.equal(clock.now(), 1600);
  assert.equal(clock.monotonic(), 600);
});

test('a cancelled timer never fires; a timer set by a timer fires within the same advance', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('never'), 10).cancel();
  clock.setTimeout(() => {
    fired.push('first');
    clock.setTimeout(() => fired.push('chained'), 10);
  }, 10);
  clock.advance(25);
  assert.deepEqual(fired, ['first', 'chained']);
  assert.equal(clock.pending, 0);
});
