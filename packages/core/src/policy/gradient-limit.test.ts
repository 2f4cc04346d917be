import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHeadroomError } from '../errors/index.ts';
import { GradientLimit } from './gradient-limit.ts';

/** Feeds `windows` whole windows of `rtt` ms with `inflight` calls running: 10 samples 30 ms apart each. */
function feed(estimate: GradientLimit, at: { now: number }, windows: number, rtt: number, inflight = 1_000) {
  for (let w = 0; w < windows; w++) {
    for (let i = 0; i < 10; i++) {
      estimate.sample(rtt, inflight, at.now);
      at.now += 30;
    }
  }
}

test('steady RTT under full use: the limit grows by its queue allowance, up to maxLimit', () => {
  const estimate = new GradientLimit({ initialLimit: 10, maxLimit: 40 });
  const at = { now: 0 };
  feed(estimate, at, 1, 5);
  const first = estimate.limit;
  feed(estimate, at, 20, 5);
  assert.ok(estimate.limit > first, `${first} → ${estimate.limit}`);
  feed(estimate, at, 500, 5);
  assert.equal(estimate.limit, 40);
  assert.equal(estimate.longRtt, 5);
});

test('RTT past tolerance × the long-term average: the limit shrinks, to minLimit at worst', () => {
  const estimate = new GradientLimit({ initialLimit: 100, minLimit: 4 });
  const at = { now: 0 };
  feed(estimate, at, 10, 5);
  const before = estimate.limit;
  feed(estimate, at, 1, 50); // ten times slower: gradient 0.5 (its floor)
  assert.ok(estimate.limit < before, `${before} → ${estimate.limit}`);
  assert.ok(estimate.limit >= Math.floor(before * 0.9), 'smoothing: at most 10% off per window');
  feed(estimate, at, 120, 50); // 30 s of it
  assert.ok(estimate.limit <= 10, `still ${estimate.limit} after 30 s of overload`);
  assert.ok(estimate.longRtt < 25, `the overload taught the average ${estimate.longRtt} ms`);
  feed(estimate, at, 100, 500_000);
  // Halved per window, plus the queue allowance of 4: the estimate settles at 8, never under minLimit.
  assert.equal(estimate.limit, 8);
  const floor = new GradientLimit({ initialLimit: 20, minLimit: 12 });
  feed(floor, at, 10, 5);
  feed(floor, at, 100, 500_000);
  assert.equal(floor.limit, 12, 'minLimit');
});

test('a slower normal is learnt, slowly: the limit comes back once the average has caught up', () => {
  const estimate = new GradientLimit({ initialLimit: 20 });
  const at = { now: 0 };
  feed(estimate, at, 10, 5);
  feed(estimate, at, 4_000, 15); // three times slower for good (1,000 s)
  assert.ok(estimate.longRtt > 10, `average ${estimate.longRtt}`);
  assert.ok(estimate.limit > 20, `limit ${estimate.limit}`);
});

test('RTT within tolerance (a doubling when tolerance is 2) does not shrink the limit', () => {
  const estimate = new GradientLimit({ initialLimit: 50, tolerance: 2 });
  const at = { now: 0 };
  feed(estimate, at, 10, 5);
  const before = estimate.limit;
  feed(estimate, at, 5, 9.5);
  assert.ok(estimate.limit >= before, `${before} → ${estimate.limit}`);
});

test('calls far below the limit say nothing about more: the limit does not grow', () => {
  const estimate = new GradientLimit({ initialLimit: 50 });
  const at = { now: 0 };
  feed(estimate, at, 100, 5, 3);
  assert.equal(estimate.limit, 50);
});

test('with a saturation signal: slower calls while the process idles neither shrink the limit nor stop it growing', () => {
  let busy = 0.2;
  const readings: number[] = [];
  const estimate = new GradientLimit({
    initialLimit: 40,
    saturation: () => {
      readings.push(busy);
      return busy;
    },
  });
  const at = { now: 0 };
  feed(estimate, at, 10, 5);
  const before = estimate.limit;
  feed(estimate, at, 20, 300); // a database sixty times slower, the event loop a fifth busy
  assert.ok(estimate.limit > before, `a dependency's latency: ${before} → ${estimate.limit}`);
  assert.equal(readings.length, 30, 'read once per window');
  const held = estimate.limit;
  busy = 0.9; // the same RTTs, and the process itself is busy: an overload of its own
  feed(estimate, at, 5, 300);
  assert.ok(estimate.limit < held, `saturated: ${held} → ${estimate.limit}`);
  const unguarded = new GradientLimit({ initialLimit: 40 });
  feed(unguarded, at, 10, 5);
  feed(unguarded, at, 20, 300);
  assert.ok(unguarded.limit < 40, `without the signal every RTT rise shrinks: 40 → ${unguarded.limit}`);
});

test('a window closes only after windowMs and minSamples both', () => {
  const estimate = new GradientLimit({ windowMs: 100, minSamples: 3 });
  assert.equal(estimate.sample(5, 20, 0), false);
  assert.equal(estimate.sample(5, 20, 200), false, 'time is up, but two samples');
  assert.equal(estimate.sample(5, 20, 201), true);
  assert.equal(estimate.sample(5, 20, 202), false);
});

test('bad options throw HR_INVALID_OPTION naming the option', () => {
  for (const [options, option] of [
    [{ minLimit: 0 }, 'minLimit'],
    [{ minLimit: 10, maxLimit: 5 }, 'maxLimit'],
    [{ initialLimit: 5000 }, 'initialLimit'],
    [{ tolerance: 0.5 }, 'tolerance'],
    [{ smoothing: 0 }, 'smoothing'],
    [{ minSamples: 0 }, 'minSamples'],
    [{ saturation: 0.5 as unknown as () => number }, 'saturation'],
    [{ saturation: () => 1, saturatedAbove: 2 }, 'saturatedAbove'],
  ] as const) {
    assert.throws(
      () => new GradientLimit(options),
      (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION' && e.context.option === option,
    );
  }
});
