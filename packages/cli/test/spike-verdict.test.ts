// The spike verdict's recovery on constructed runs: a second with a stall (a GC pause, a descheduled process)
// puts its p99 far above a whole stage's. A baseline that has such seconds does not make the same seconds after
// the spike "not back to normal"; a calm baseline does, and so does an after-stage slower throughout.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunResult } from '../src/engine/run.ts';
import { judgeSpike } from '../src/gate/spike.ts';
import type { SpikeCriteria } from '../src/scenario/scenario.ts';
import { RouteStats } from '../src/stats/route-stats.ts';

const criteria: SpikeCriteria = {
  stage: 'spike',
  baseline: 'normal',
  recoveryMs: 5_000,
  p99Factor: 2,
  recoveryFactor: 1.2,
  refusals: [429, 503],
};

interface Second {
  /** Answers admitted at `ms`. */
  n?: number;
  ms?: number;
  /** Of them, this many took `stallMs` instead (a stall in that second). */
  stalled?: number;
  stallMs?: number;
  refused?: number;
}

/** A run of `normal` (10 s), `spike` (5 s) and `after` (10 s) from one description a second (1 to 25). */
function run(describe: (t: number) => Second): RunResult {
  const stages = [
    { name: 'normal', durationMs: 10_000 },
    { name: 'spike', durationMs: 5_000 },
    { name: 'after', durationMs: 10_000 },
  ];
  const cells = stages.map((s) => new RouteStats(s.name, 'all'));
  const seconds: RouteStats[] = [];
  for (let t = 1; t <= 25; t++) {
    const { n = 300, ms = 10, stalled = 0, stallMs = 80, refused = 0 } = describe(t);
    const second = new RouteStats(String(t), 'all');
    const stage = cells[t <= 10 ? 0 : t <= 15 ? 1 : 2]!;
    const doneAt = t * 1000 - 1;
    for (let i = 0; i < n + refused; i++) {
      const took = i < stalled ? stallMs : i < n ? ms : 2;
      const sample = {
        intendedMs: doneAt - took,
        sentMs: doneAt - took,
        doneMs: doneAt,
        status: i < n ? 200 : 503,
      };
      second.record(sample);
      stage.record(sample);
    }
    seconds.push(second);
  }
  return { stages, cells, seconds } as unknown as RunResult;
}

const recovery = (result: RunResult) =>
  judgeSpike(result, criteria).checks.find((c) => c.name === 'recovery')!;
const spike = (t: number): Second | undefined =>
  t > 10 && t <= 15 ? { n: 500, ms: 50, refused: 2_500 } : t === 16 ? { refused: 30 } : undefined;

test('stalled seconds after the spike, no more often than in the baseline: back to normal', () => {
  // Two stalls in ten normal seconds (each 10 of 300 answers at 80 ms: the stage's p99 stays at 10 ms); two
  // heavier ones after the spike, 30 of the rest's 2,700 answers: over 1%, so the rest's p99 alone reads 80 ms.
  const result = run(
    (t) => spike(t) ?? (t === 4 || t === 8 ? { stalled: 10 } : t === 20 || t === 25 ? { stalled: 15 } : {}),
  );
  const verdict = recovery(result);
  assert.equal(verdict.verdict, 'pass', verdict.detail);
  assert.match(verdict.detail, /back to normal 1 s after the spike/);
  assert.match(verdict.detail, /no more often than 20\.0% of "normal"'s/);
  assert.equal(judgeSpike(result, criteria).recoverySeconds, 1);
});

test('stalls after a calm baseline, enough to move the rest of the run: not back to normal', () => {
  const result = run((t) => spike(t) ?? (t === 20 ? { stalled: 15 } : t === 25 ? { stalled: 30 } : {}));
  const verdict = recovery(result);
  assert.equal(verdict.verdict, 'fail');
  assert.match(verdict.detail, /not back to normal before the run ended/);
});

test('one stall after a calm baseline, too few answers to move the rest of the run: back to normal', () => {
  const result = run((t) => spike(t) ?? (t === 25 ? { stalled: 10 } : {}));
  assert.equal(recovery(result).verdict, 'pass', recovery(result).detail);
});

test('every second after the spike slower than the bound, with a baseline that stalled: not back to normal', () => {
  const result = run((t) => spike(t) ?? (t === 4 || t === 8 ? { stalled: 10 } : t > 16 ? { ms: 13 } : {}));
  assert.equal(recovery(result).verdict, 'fail');
});

test('refusals that stay above the baseline share: not back to normal, stalls or not', () => {
  const result = run(
    (t) => spike(t) ?? (t === 4 || t === 8 ? { stalled: 10 } : t > 16 ? { refused: 6 } : {}),
  );
  assert.equal(recovery(result).verdict, 'fail');
});
