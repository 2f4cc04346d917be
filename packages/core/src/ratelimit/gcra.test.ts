import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gcra } from './gcra.ts';

const now = 1_767_225_600_000;

test('600 per minute with a burst of 10: ten at once, then one every 100 ms', () => {
  const params = { emissionIntervalMs: 100, burst: 10 };
  let tat: number | undefined;
  for (let i = 1; i <= 10; i++) {
    const d = gcra(tat, now, params, 1);
    assert.equal(d.allowed, true);
    assert.equal(d.remaining, 10 - i);
    tat = d.tat;
  }
  const limited = gcra(tat, now, params, 1);
  assert.deepEqual(
    { ...limited, tat: undefined },
    { allowed: false, remaining: 0, resetMs: 1000, retryAfterMs: 100, tat: undefined },
  );
  assert.equal(gcra(tat, now + 99, params, 1).allowed, false);
  assert.equal(gcra(tat, now + 100, params, 1).allowed, true);
});

test('a stored TAT in the past counts as a full bucket', () => {
  const d = gcra(now - 5000, now, { emissionIntervalMs: 100, burst: 3 }, 1);
  assert.deepEqual(d, { allowed: true, remaining: 2, resetMs: 100, retryAfterMs: 0, tat: now + 100 });
});

test('a cost above the burst is never allowed', () => {
  const d = gcra(undefined, now, { emissionIntervalMs: 100, burst: 3 }, 4);
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfterMs, 100);
  assert.equal(d.tat, now);
});
