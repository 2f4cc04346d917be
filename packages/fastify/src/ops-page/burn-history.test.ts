import assert from 'node:assert/strict';
import test from 'node:test';
import { BurnHistory } from './burn-history.ts';

const minute = 60_000;

test('the burn rate over each window runs from the sample at or just before its start', () => {
  const history = new BurnHistory();
  // 1,000 answers a minute; 1 failed a minute for 50 minutes, then 10 a minute.
  let requests = 0;
  let failed = 0;
  for (let at = 0; at <= 60 * minute; at += minute) {
    history.record(at, [{ name: 'search', requests, failed }]);
    requests += 1000;
    failed += at < 50 * minute ? 1 : 10;
  }
  const now = { at: 60 * minute, requests: 60_000, failed: 50 + 10 * 10 };
  const [five, hour] = history.burn('search', now, 0.001);
  // The last 5 minutes: 50 failed of 5,000, 1% against a 0.1% budget.
  assert.deepEqual(five, { window_s: 300, covered_s: 300, requests: 5000, failed: 50, burn_rate: 10 });
  // The hour: 150 of 60,000.
  assert.equal(hour?.failed, 150);
  assert.equal(hour?.covered_s, 3600);
  assert.ok(Math.abs(hour!.burn_rate! - 2.5) < 1e-9);
});

test('younger than a window: measured over what is covered, and said so', () => {
  const history = new BurnHistory();
  history.record(0, [{ name: 'search', requests: 0, failed: 0 }]);
  const [five, hour] = history.burn('search', { at: 2 * minute, requests: 200, failed: 2 }, 0.01);
  assert.deepEqual(five, { window_s: 300, covered_s: 120, requests: 200, failed: 2, burn_rate: 1 });
  assert.equal(hour?.covered_s, 120);
});

test('no answers, no budget or no sample: no burn rate', () => {
  const history = new BurnHistory();
  history.record(0, [{ name: 'quiet', requests: 10, failed: 0 }]);
  assert.equal(history.burn('quiet', { at: minute, requests: 10, failed: 0 }, 0.01)[0]?.burn_rate, null);
  assert.equal(history.burn('quiet', { at: minute, requests: 20, failed: 1 }, undefined)[0]?.burn_rate, null);
  assert.deepEqual(history.burn('unknown', { at: minute, requests: 20, failed: 1 }, 0.01)[0], {
    window_s: 300,
    covered_s: 0,
    requests: 0,
    failed: 0,
    burn_rate: null,
  });
});

test('samples older than the longest window go, but for the one that starts it', () => {
  const history = new BurnHistory(10 * minute);
  for (let at = 0; at <= 100 * minute; at += minute) {
    history.record(at, [{ name: 'search', requests: at / minute, failed: 0 }]);
  }
  const [, ten] = history.burn('search', { at: 100 * minute, requests: 100, failed: 0 }, 0.01, [
    5 * minute,
    10 * minute,
  ]);
  assert.equal(ten?.covered_s, 600);
  // A window longer than what is kept reaches back only as far as the oldest sample kept.
  const [long] = history.burn('search', { at: 100 * minute, requests: 100, failed: 0 }, 0.01, [60 * minute]);
  assert.equal(long?.covered_s, 600);
});
