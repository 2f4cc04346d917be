import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '@headroom/core/slo';
import { decimalOf, divide, minus, times } from './decimal.ts';
import { generate } from './gen.ts';
import { burnFactors, errorBudget } from './rules.ts';

test('thresholds are exact decimals, never float artefacts', () => {
  assert.equal(times('14.4', '0.001'), '0.0144');
  assert.equal(times(6, 0.001), '0.006');
  assert.equal(14.4 * 0.001 === 0.0144, false, 'what plain floats would have printed');
  assert.equal(minus('1', '0.999'), '0.001');
  assert.equal(minus(1, 0.9995), '0.0005');
  assert.equal(divide('14.4', '3'), '4.8');
  assert.equal(decimalOf(1e-7), '0.0000001');
  assert.throws(() => times('1e3', '1'), /plain decimal/);
});

test('burn factors are the workbook’s for 30 days and scale with the window; long windows past it are left out', () => {
  const thirty = burnFactors(30 * 86_400_000).map((c) => `${c.severity} ${c.long}/${c.short} ${c.factor}`);
  assert.deepEqual(thirty, ['page 1h/5m 14.4', 'page 6h/30m 6', 'ticket 1d/2h 3', 'ticket 3d/6h 1']);
  const seven = burnFactors(7 * 86_400_000).map((c) => c.factor);
  assert.deepEqual(seven, ['3.36', '1.4', '0.7', '0.233333']);
  assert.deepEqual(
    burnFactors(86_400_000).map((c) => c.long),
    ['1h', '6h', '1d'],
  );
});

test('an objective with availability only gets 1 − availability as its error budget; one with neither none', () => {
  const spec = parseSpec(`service: s
window: 30d
objectives:
  - { name: ready, route: GET /ready, latency: { p95: 20ms }, availability: 99.95% }
  - { name: fast, route: GET /fast, latency: { p99: 5ms } }
  - { name: strict, route: GET /strict, latency: { p95: 5ms }, errors: { ratio: 1%, statuses: [5xx, 429] } }
`);
  assert.deepEqual(errorBudget(spec.objectives[0]!), { ratio: '0.0005', statuses: '5..' });
  assert.equal(errorBudget(spec.objectives[1]!), undefined);
  assert.deepEqual(errorBudget(spec.objectives[2]!), { ratio: '0.01', statuses: '5..|429' });
  const files = generate(spec);
  assert.match(files['rules/s-slo-strict.rules.yml']!, /code=~"5\.\.\|429"/);
  assert.doesNotMatch(files['rules/s-slo-fast.rules.yml']!, /HeadroomErrorBudgetBurn/);
  // p50 allows half the requests over: a 14.4× page would need a ratio over 1, so it is not written.
  assert.deepEqual(Object.keys(files).filter((f) => f.startsWith('runbooks/')).length, 8);
});
