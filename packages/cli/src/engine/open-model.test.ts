import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type OpenModelOptions, runOpenModel } from './open-model.ts';

/** Options whose clock is already past the whole schedule: every arrival is due in the first tick. */
function late(overrides: Partial<OpenModelOptions>) {
  const started: { index: number; stage: number; intendedMs: number; issuedMs: number }[] = [];
  const pending: (() => void)[] = [];
  const dropped: number[] = [];
  const options: OpenModelOptions = {
    stages: [
      { name: 'a', durationMs: 1000, rate: 10 },
      { name: 'b', durationMs: 1000, rate: 20 },
    ],
    shard: { index: 0, count: 1 },
    startMs: 100,
    now: () => 10_000,
    maxInflight: 1_000,
    stopped: () => false,
    start: (index, stage, intendedMs, issuedMs, done) => {
      started.push({ index, stage, intendedMs, issuedMs });
      pending.push(done);
    },
    dropped: (stage) => dropped.push(stage),
    ...overrides,
  };
  return { options, started, pending, dropped };
}

test('every arrival starts once, at its intended time on the run clock, tagged with its stage', async () => {
  const { options, started, pending } = late({});
  let resolved = false;
  const run = runOpenModel(options).then(() => {
    resolved = true;
  });
  assert.equal(started.length, 30);
  assert.deepEqual(started[0], { index: 0, stage: 0, intendedMs: 100, issuedMs: 10_000 });
  assert.deepEqual(started[10], { index: 10, stage: 1, intendedMs: 1100, issuedMs: 10_000 });
  // The run ends only when the last iteration does.
  for (const done of pending.slice(1)) done();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(resolved, false);
  pending[0]!();
  await run;
});

test('arrivals beyond maxInflight are dropped and counted, not queued', async () => {
  const { options, started, pending, dropped } = late({ maxInflight: 4 });
  const run = runOpenModel(options);
  assert.equal(started.length, 4);
  assert.equal(dropped.length, 26);
  assert.deepEqual([dropped.filter((s) => s === 0).length, dropped.filter((s) => s === 1).length], [6, 20]);
  for (const done of pending) done();
  await run;
});

test('a shard starts every n-th arrival of the shared schedule; a stop ends the schedule', async () => {
  const shard = late({ shard: { index: 1, count: 3 } });
  const run = runOpenModel(shard.options);
  assert.deepEqual(
    shard.started.map((s) => s.index),
    [1, 4, 7, 10, 13, 16, 19, 22, 25, 28],
  );
  for (const done of shard.pending) done();
  await run;

  let calls = 0;
  const stopping = late({ stopped: () => ++calls > 5 });
  const stopped = runOpenModel(stopping.options);
  assert.equal(stopping.started.length, 5);
  for (const done of stopping.pending) done();
  await stopped;
});

test('an arrival not yet due waits for a timer, then starts', async () => {
  let clock = 0;
  const { options, started, pending } = late({
    stages: [{ name: 'a', durationMs: 15, rate: 200 }],
    startMs: 0,
    now: () => clock,
  });
  const timers = () => new Promise((resolve) => setTimeout(resolve, 20));
  const run = runOpenModel(options);
  assert.deepEqual(
    started.map((s) => s.intendedMs),
    [0],
  );
  clock = 5;
  await timers();
  assert.deepEqual(
    started.map((s) => s.intendedMs),
    [0, 5],
  );
  clock = 9.5; // up to 1 ms early: issued at 9.5, meant for 10
  await timers();
  assert.deepEqual(started[2], { index: 2, stage: 0, intendedMs: 10, issuedMs: 9.5 });
  for (const done of pending) done();
  await run;
});
