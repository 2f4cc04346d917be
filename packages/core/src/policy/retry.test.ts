import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { HeadroomError, isAbortedError, isHeadroomError } from '../errors/index.ts';
import { retry } from './retry.ts';
import { retryBudget } from './retry-budget.ts';

const failing = (times: number, attempts: number[] = []) => {
  return ({ attempt }: { attempt: number }) => {
    attempts.push(attempt);
    if (attempts.length <= times) throw new Error(`failure ${attempts.length}`);
    return 'ok';
  };
};

test('retries with exponential backoff on the injected clock and hands the attempt number over', async () => {
  const clock = new FakeClock();
  const attempts: number[] = [];
  const delays: number[] = [];
  const policy = retry({ maxAttempts: 3, initialDelay: 100, jitter: 'none', clock });
  policy.onRetry((e) => delays.push(e.delay));
  const call = policy.execute(failing(2, attempts));
  await clock.tick(99);
  assert.deepEqual(attempts, [0], 'the first retry waits its full 100 ms');
  await clock.tick(1);
  assert.deepEqual(attempts, [0, 1]);
  await clock.tick(200);
  assert.equal(await call, 'ok');
  assert.deepEqual(attempts, [0, 1, 2]);
  assert.deepEqual(delays, [100, 200]);
});

test('gives up after maxAttempts with the last error', async () => {
  const clock = new FakeClock();
  const call = retry({ maxAttempts: 3, initialDelay: 10, jitter: 'none', clock }).execute(failing(99));
  const settled = call.catch((e: Error) => e);
  await clock.tick(1_000);
  assert.equal(((await settled) as Error).message, 'failure 3');
});

test('full jitter draws in [0, exponential]; decorrelated in [initial, 3 × previous], capped by maxDelay', async () => {
  for (const [jitter, random, expected] of [
    ['full', () => 0.5, [50, 100, 200]],
    ['decorrelated', () => 1, [300, 900, 1000]],
    ['decorrelated', () => 0, [100, 100, 100]],
  ] as const) {
    const clock = new FakeClock();
    const delays: number[] = [];
    const policy = retry({ maxAttempts: 4, initialDelay: 100, maxDelay: 1_000, jitter, random, clock });
    policy.onRetry((e) => delays.push(e.delay));
    const call = policy.execute(failing(3));
    await clock.tick(5_000);
    assert.equal(await call, 'ok');
    assert.deepEqual(delays, expected, jitter);
  }
});

test('does not retry 4xx HeadroomErrors, nor what the retryable predicate refuses', async () => {
  const clock = new FakeClock();
  let calls = 0;
  const bad = retry({ clock }).execute(() => {
    calls++;
    throw new HeadroomError('HR_VALIDATION', 'bad input', { status: 400 });
  });
  await assert.rejects(bad, (e: unknown) => isHeadroomError(e) && e.code === 'HR_VALIDATION');
  assert.equal(calls, 1);
  const picky = retry({ clock, retryable: (e) => (e as Error).message !== 'fatal' }).execute(() => {
    calls++;
    throw new Error('fatal');
  });
  await assert.rejects(picky, /fatal/);
  assert.equal(calls, 2);
});

test('a retry budget caps retries at its share of calls, so an outage is not multiplied', async () => {
  const clock = new FakeClock();
  const budget = retryBudget({ ratio: 0.1, minPerSecond: 0, window: 10_000, clock });
  const policy = retry({ maxAttempts: 5, initialDelay: 0, budget, clock });
  let refused = 0;
  policy.onBudgetExhausted(() => refused++);
  let attempts = 0;
  const calls = Array.from({ length: 100 }, () =>
    policy
      .execute(() => {
        attempts++;
        throw new Error('down');
      })
      .catch(() => {}),
  );
  await Promise.all(calls);
  assert.equal(attempts, 110, '100 calls + at most 10% retries (without a budget: 500 attempts)');
  assert.equal(budget.stats().retries, 10);
  assert.equal(refused, 100, 'every call ends with a refused retry: 90 at once, the 10 retried ones after');
  clock.advance(10_000);
  assert.equal(budget.stats().calls, 0, 'the window rolls on');
});

test('aborting during a backoff rejects at once and runs no further attempt', async () => {
  const clock = new FakeClock();
  const attempts: number[] = [];
  const controller = new AbortController();
  const call = retry({ maxAttempts: 5, initialDelay: 1_000, jitter: 'none', clock }).execute(
    failing(99, attempts),
    controller.signal,
  );
  await clock.tick(10);
  controller.abort();
  await assert.rejects(call, isAbortedError);
  await clock.tick(10_000);
  assert.deepEqual(attempts, [0]);
  assert.equal(clock.pending, 0, 'the backoff timer was cancelled');
});
