import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isAbortedError } from '../errors/index.ts';
import { hedge } from './hedge.ts';

test('starts a second attempt after the delay, takes the first answer and aborts the loser', async () => {
  const clock = new FakeClock();
  const policy = hedge({ delay: 50, clock });
  const signals: AbortSignal[] = [];
  let hedges = 0;
  policy.onHedge(() => hedges++);
  const durations = [500, 20];
  const call = policy.execute(({ signal }) => {
    signals.push(signal);
    const ms = durations[signals.length - 1]!;
    return new Promise<string>((resolve) => clock.setTimeout(() => resolve(`took ${ms}`), ms));
  });
  await clock.tick(49);
  assert.equal(signals.length, 1);
  await clock.tick(1);
  assert.equal(signals.length, 2);
  await clock.tick(20);
  assert.equal(await call, 'took 20');
  assert.equal(hedges, 1);
  assert.equal(signals[0]!.aborted, true, 'the slow attempt is cancelled');
  assert.equal(signals[1]!.aborted, false);
});

test('a fast answer never hedges; a failed first attempt hedges at once; all failing rejects', async () => {
  const clock = new FakeClock();
  const policy = hedge({ delay: 1_000, maxHedges: 2, clock });
  let calls = 0;
  assert.equal(await policy.execute(() => ++calls), 1);
  await clock.tick(2_000);
  assert.equal(calls, 1);

  let attempts = 0;
  const flaky = policy.execute(() => {
    attempts++;
    if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
    return 'third time';
  });
  assert.equal(await flaky, 'third time', 'no waiting for the delay after failures');

  const doomed = policy.execute(() => Promise.reject(new Error('down')));
  await assert.rejects(doomed, /down/);
});

test('an adaptive delay follows the observed percentile within its bounds', async () => {
  const clock = new FakeClock();
  const policy = hedge({ delay: { percentile: 90, min: 5, max: 80, samples: 100 }, clock });
  assert.equal(policy.delay, 5, 'min until enough samples');
  for (let i = 1; i <= 100; i++) {
    const call = policy.execute(
      () => new Promise((r) => clock.setTimeout(() => r(i), i % 10 === 0 ? 60 : 2)),
    );
    await clock.tick(i % 10 === 0 ? 60 : 2);
    await call;
  }
  assert.ok(policy.delay >= 5 && policy.delay <= 80, `delay ${policy.delay}`);
});

test("the caller's abort rejects and aborts every attempt", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const signals: AbortSignal[] = [];
  const call = hedge({ delay: 10, clock }).execute(({ signal }) => {
    signals.push(signal);
    return new Promise(() => {});
  }, controller.signal);
  await clock.tick(10);
  controller.abort();
  await assert.rejects(call, isAbortedError);
  assert.ok(signals.length === 2 && signals.every((s) => s.aborted));
});
