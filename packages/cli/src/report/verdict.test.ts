import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GateResult } from '../gate/judge.ts';
import { checkTitle, formatLimit, headline } from './verdict.ts';

test('a check is named by its budget, never by what was measured', () => {
  assert.equal(checkTitle({ metric: 'p95', limit: 40 }), 'p95 ≤ 40 ms');
  assert.equal(checkTitle({ metric: 'p99.9', limit: 2.5 }), 'p99.9 ≤ 2.5 ms');
  assert.equal(checkTitle({ metric: 'errors', limit: 0.001 }), 'errors ≤ 0.1%');
  assert.equal(checkTitle({ metric: 'availability', limit: 0.999 }), 'availability ≥ 99.9%');
  assert.equal(checkTitle({ metric: 'checks', limit: 0 }), 'checks ≤ 0%');
  assert.equal(checkTitle({ metric: 'throughput', limit: 200 }), 'throughput ≥ 200/s');
  assert.equal(formatLimit('errors', 0.0001), '0.01%', 'no float noise');
});

test('the headline says fail, then insufficient data, then pass', () => {
  const route = (
    verdict: GateResult['routes'][number]['verdict'],
    checks: GateResult['routes'][number]['checks'] = [],
  ) => ({
    route: `GET /${verdict}`,
    samples: 1,
    checks,
    verdict,
  });
  const insufficient = route('insufficient', [
    {
      metric: 'p95',
      observed: 1,
      limit: 2,
      verdict: 'insufficient',
      note: '30 admitted samples, 200 needed',
    },
  ]);
  assert.equal(headline(undefined), 'not judged');
  assert.equal(headline({ verdict: 'pass', routes: [route('pass')] }), 'pass');
  // The gate passes (exit 0) a run whose budgets could not all be judged; the headline does not call it a pass.
  assert.equal(headline({ verdict: 'pass', routes: [route('pass'), insufficient] }), 'insufficient data');
  assert.equal(headline({ verdict: 'fail', routes: [route('fail'), insufficient] }), 'fail');
  assert.equal(headline({ verdict: 'pass', routes: [route('unjudged')] }), 'pass');
});
