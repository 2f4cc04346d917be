import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHeadroomError } from '../errors/index.ts';
import { Backoff } from './backoff.ts';

test('exponential, capped; full jitter scales it by the random draw; decorrelated stays within its band', () => {
  const plain = new Backoff({ initialDelay: 100, maxDelay: 1_000, jitter: 'none' });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((retry) => plain.delay(retry)),
    [100, 200, 400, 800, 1_000, 1_000],
  );
  const full = new Backoff({ initialDelay: 100, maxDelay: 1_000, random: () => 0.5 });
  assert.deepEqual(
    [1, 3, 9].map((retry) => full.delay(retry)),
    [50, 200, 500],
  );
  const decorrelated = new Backoff({
    initialDelay: 100,
    maxDelay: 1_000,
    jitter: 'decorrelated',
    random: () => 1,
  });
  assert.equal(decorrelated.delay(2, 200), 600);
  assert.equal(decorrelated.delay(3, 600), 1_000, 'capped');
});

test('bad options throw HR_INVALID_OPTION naming the option and its owner', () => {
  assert.throws(
    () => new Backoff({ maxDelay: 10, initialDelay: 100 }, 'jobs'),
    (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION' && e.context.option === 'maxDelay',
  );
});
