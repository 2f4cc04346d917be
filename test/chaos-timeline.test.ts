// The drills' "all 2xx from then on" judgements on a timeline of whole seconds (chaos/drill.ts). A second's
// answers are those that completed in it, so the second that straddles an instant holds answers from before it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanFrom, secondsUntilClean } from '../chaos/drill.ts';
import type { TimelinePoint } from '../packages/cli/src/engine/run.ts';

/** Seconds 1 to 10 at 100 answers each, 200 unless `codes` says otherwise for that second. */
const timeline = (codes: Record<number, Record<string, number>>): TimelinePoint[] =>
  Array.from({ length: 10 }, (_, i) => {
    const t = i + 1;
    return { t, requests: 100, errors: 0, p50: 1, p95: 2, p99: 3, codes: codes[t] ?? { 200: 100 } };
  });

test('a 503 in the second that straddles ready + 1 s is not judged; one in the next second is', () => {
  // Ready at 5.975 s: the second ending at 7 s began 25 ms after ready and holds a 503 nginx passed on while
  // the new instance started up (the fresh-clone CI run that failed "all 2xx ≤ 1 s after ready").
  const straddling = timeline({ 6: { 200: 58, 502: 42 }, 7: { 200: 99, 503: 1 } });
  assert.equal(
    secondsUntilClean(straddling, 5_975),
    1.025,
    'the first clean second begins 1.025 s after ready',
  );
  assert.equal(cleanFrom(straddling, 5_975 + 1_000), true, 'every second beginning ≥ 1 s after ready is 2xx');

  const late = timeline({ 6: { 200: 58, 502: 42 }, 8: { 200: 99, 503: 1 } });
  assert.equal(cleanFrom(late, 5_975 + 1_000), false, 'a 503 in a second that began 1.025 s after ready');
  assert.equal(secondsUntilClean(late, 5_975), 2.025);
});

test('no answers in a second, or a request without one, is not clean; nothing to judge is not clean either', () => {
  const empty = timeline({});
  empty[8] = { ...empty[8]!, requests: 0, codes: {} };
  assert.equal(cleanFrom(empty, 2_000), false);
  assert.equal(secondsUntilClean(empty, 2_000), 7, 'from the second after the empty one (9 s to 10 s)');

  const unanswered = timeline({});
  unanswered[3] = { ...unanswered[3]!, networkErrors: 1 };
  assert.equal(cleanFrom(unanswered, 0), false);
  assert.equal(cleanFrom(unanswered, 4_000), true);

  assert.equal(cleanFrom(timeline({}), 10_000), false, 'no second began at or after the end');
  assert.equal(secondsUntilClean(timeline({ 10: { 500: 1, 200: 99 } }), 0), undefined);
});
