import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { createDegrader, type DegradeRule } from './degrader.ts';
import { SliWindow } from './sli-window.ts';
import type { Objective } from './spec.ts';

const search: Objective = {
  name: 'search',
  method: 'GET',
  route: '/v1/cases/search',
  latency: { p95: 150 },
  errors: { value: 0.01, decimal: '1%', statuses: ['5xx'] },
};

function setUp(rules: Partial<DegradeRule>[] = [{}]) {
  const clock = new FakeClock();
  const calls: string[] = [];
  const degrader = createDegrader({
    clock,
    target: {
      degrade: (feature, change) => calls.push(`off ${feature} by ${change.by}`),
      restore: (feature, change) => calls.push(`on ${feature} by ${change.by}`),
    },
    rules: rules.map((r, i) => ({
      name: `rule-${i}`,
      objective: search,
      features: ['expand_depth_3', 'suggestions'],
      breachFor: 30_000,
      restoreFor: 120_000,
      ...r,
    })),
  });
  const observe = degrader.observer('GET', '/v1/cases/search')!;
  /** `seconds` of traffic, 50 requests a second, `slow` of each 50 taking `ms`, the rest 20 ms; judged each second. */
  const traffic = (seconds: number, slow: number, ms: number, status = 200) => {
    for (let s = 0; s < seconds; s++) {
      for (let i = 0; i < 50; i++) observe(i < slow ? ms : 20, status);
      clock.advance(1_000);
      degrader.evaluate();
    }
  };
  return { clock, calls, degrader, traffic };
}

test('a window counts per second and forgets what is older than asked', () => {
  const clock = new FakeClock();
  const window = new SliWindow([100, 80], 10, clock);
  window.observe(120, false);
  window.observe(90, true);
  window.observe(10, false);
  assert.deepEqual(window.read(1_000), { total: 3, failed: 1, over: [1, 2] });
  clock.advance(5_000);
  window.observe(200, false);
  assert.deepEqual(window.read(3_000), { total: 1, failed: 0, over: [1, 1] });
  assert.deepEqual(window.read(10_000), { total: 4, failed: 1, over: [2, 3] });
  clock.advance(20_000);
  assert.deepEqual(
    window.read(10_000),
    { total: 0, failed: 0, over: [0, 0] },
    'a slot from a lap ago is not read',
  );
});

test('p95 over budget for breachFor turns the features off, once; comfortably under it for restoreFor turns them on', () => {
  const { calls, degrader, traffic } = setUp();
  traffic(20, 0, 0);
  assert.equal(degrader.states()[0]!.state, 'normal');
  traffic(29, 5, 400); // 10% over 150 ms: p95 breached, not yet for 30 s (the window fills first)
  assert.equal(degrader.states()[0]!.state, 'breaching');
  assert.deepEqual(calls, []);
  traffic(15, 5, 400);
  assert.deepEqual(calls, ['off expand_depth_3 by degrader:rule-0', 'off suggestions by degrader:rule-0']);
  assert.equal(degrader.states()[0]!.state, 'degraded');
  assert.ok(degrader.degraded);
  assert.equal(degrader.states()[0]!.reading.overBudget.p95, 0.1);

  // Under budget but not under 80% of it (p95 ≈ 140 ms): no restore, however long.
  traffic(200, 5, 140);
  assert.equal(degrader.states()[0]!.state, 'degraded');
  assert.equal(calls.length, 2);
  // Comfortably under (p95 = 20 ms): restored after 2 minutes of it, and the window's own 10 s.
  traffic(100, 0, 0);
  assert.equal(degrader.states()[0]!.state, 'recovering');
  traffic(40, 0, 0);
  assert.deepEqual(calls.slice(2), [
    'on expand_depth_3 by degrader:rule-0',
    'on suggestions by degrader:rule-0',
  ]);
  assert.equal(degrader.states()[0]!.state, 'normal');
});

test('the error budget breaches too; a breach that stops before breachFor does nothing; too little traffic gives no verdict', () => {
  const { calls, traffic } = setUp();
  traffic(20, 0, 0);
  traffic(20, 2, 20, 503); // 4% 5xx over a 1% budget, for 20 s only (+ window)
  traffic(15, 0, 0);
  assert.deepEqual(calls, [], 'a short breach');
  traffic(45, 2, 20, 503);
  assert.equal(calls.length, 2, 'a long one');
  const quiet = setUp();
  for (let s = 0; s < 120; s++) {
    quiet.degrader.observer('GET', '/v1/cases/search')!(900, 500); // one slow failure a second: 10 in a window
    quiet.clock.advance(1_000);
    quiet.degrader.evaluate();
  }
  assert.deepEqual(quiet.calls, [], 'under minSamples, no verdict');
});

test('a feature two rules hold comes back only when both let go; minHold keeps it off at least that long', () => {
  const { calls, traffic } = setUp([{ restoreFor: 10_000, minHold: 60_000 }, { restoreFor: 90_000 }]);
  traffic(20, 0, 0);
  traffic(45, 5, 400);
  assert.deepEqual(calls, ['off expand_depth_3 by degrader:rule-0', 'off suggestions by degrader:rule-0']);
  traffic(40, 0, 0); // rule-0 would restore after 10 s, but minHold is 60 s since it acted
  assert.equal(calls.length, 2);
  traffic(30, 0, 0); // rule-0 lets go; rule-1 still holds (90 s)
  assert.equal(calls.length, 2);
  traffic(40, 0, 0);
  assert.deepEqual(calls.slice(2), [
    'on expand_depth_3 by degrader:rule-1',
    'on suggestions by degrader:rule-1',
  ]);
});

test('routes no rule watches get no observer; start() evaluates on the clock until stop()', async () => {
  const { clock, degrader, calls } = setUp([{ breachFor: 0 }]);
  assert.equal(degrader.observer('GET', '/v1/cases/:id'), undefined);
  degrader.start();
  const observe = degrader.observer('GET', '/v1/cases/search')!;
  for (let i = 0; i < 50; i++) observe(400, 200);
  await clock.tick(1_000);
  assert.equal(calls.length, 2);
  degrader.stop();
  assert.equal(clock.pending, 0);
});

test('tune() changes a rule’s timings from the next evaluation; an unknown rule or a bad value changes nothing', () => {
  const { calls, degrader, traffic } = setUp([{ breachFor: 60_000 }]);
  traffic(20, 5, 400); // breaching for about 10 s (the window's first 10 s fill it)
  assert.equal(degrader.states()[0]!.state, 'breaching');
  assert.throws(() => degrader.tune('nope', { breachFor: 1_000 }), /name/);
  assert.throws(() => degrader.tune('rule-0', { breachFor: -1 }), /breachFor/);
  degrader.tune('rule-0', { breachFor: 5_000 });
  traffic(1, 5, 400);
  assert.deepEqual(calls, ['off expand_depth_3 by degrader:rule-0', 'off suggestions by degrader:rule-0']);
});
