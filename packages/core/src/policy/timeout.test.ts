import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isAbortedError, isHeadroomError } from '../errors/index.ts';
import { isTimeoutError } from './errors.ts';
import { timeout } from './timeout.ts';

test('rejects with HR_TIMEOUT at the deadline even when the function ignores its signal', async () => {
  const clock = new FakeClock();
  const policy = timeout({ duration: 200, clock });
  let seen: AbortSignal | undefined;
  const call = policy.execute(({ signal }) => {
    seen = signal;
    return new Promise(() => {}); // never settles
  });
  const settled = call.catch((e: unknown) => e);
  await clock.tick(199);
  assert.equal(seen?.aborted, false);
  await clock.tick(1);
  const error = await settled;
  assert.ok(isTimeoutError(error) && isHeadroomError(error) && error.status === 504);
  assert.equal(seen?.aborted, true, 'the function was told through its signal');
  assert.equal(clock.pending, 0);
});

test('a call that answers in time keeps its value, and leaves no timer once the last call is done', async () => {
  const clock = new FakeClock();
  const policy = timeout({ duration: 200, clock });
  assert.equal(await policy.execute(() => 'fast'), 'fast');
  const slowish = policy.execute(
    () => new Promise<string>((resolve) => clock.setTimeout(() => resolve('in time'), 150)),
  );
  await clock.tick(150);
  assert.equal(await slowish, 'in time');
  await clock.tick(100);
  assert.equal(clock.pending, 0);
});

test('many calls share one timer and each expires at its own deadline', async () => {
  const clock = new FakeClock();
  const policy = timeout({ duration: 100, clock });
  const expired: number[] = [];
  const calls: Promise<unknown>[] = [];
  for (const offset of [0, 30, 60]) {
    await clock.tick(offset - clock.monotonic());
    calls.push(policy.execute(() => new Promise(() => {})).catch(() => expired.push(clock.monotonic())));
  }
  assert.equal(clock.pending, 1, 'one timer for all pending calls');
  await clock.tick(200);
  await Promise.all(calls);
  assert.deepEqual(expired, [100, 130, 160]);
});

test("the caller's abort passes through and rejects at once", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const call = timeout({ duration: 1_000, clock }).execute(() => new Promise(() => {}), controller.signal);
  controller.abort(new Error('client went away'));
  await assert.rejects(call, isAbortedError);
});
