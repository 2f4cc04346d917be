import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventLoopSaturation } from './event-loop.ts';

test('eventLoopSaturation reads the share of time the loop was busy since the reading before', async () => {
  await new Promise((resolve) => setTimeout(resolve, 10)); // the loop runs (before it does, it reads 0)
  const read = eventLoopSaturation();
  const spinUntil = performance.now() + 60;
  while (performance.now() < spinUntil) {
    // busy: the loop runs code and waits for nothing
  }
  await new Promise((resolve) => setImmediate(resolve)); // a tick counts once it ends
  const busy = read();
  await new Promise((resolve) => setTimeout(resolve, 60));
  const idle = read();
  assert.ok(busy > 0.9, `spinning: ${busy}`);
  assert.ok(idle < 0.5, `waiting on a timer: ${idle}`);
});
