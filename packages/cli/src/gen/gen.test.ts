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
  assert.deepEqual(Object.keys(files).filter((f) => f.startsWith('runbooks/')).length, 9);
});

test('phase and real-user budgets: their rules, exact thresholds, a test file for RUM, and a dashboard', () => {
  const spec = parseSpec(`service: s
objectives:
  - { name: search, route: GET /search, latency: { p95: 60ms }, phases: { db: 20ms } }
rum:
  - { journey: search-page, target: 90%, lcp: 2.5s, cls: 0.1 }
`);
  const files = generate(spec);
  const search = files['rules/s-slo-search.rules.yml']!;
  assert.match(
    search,
    /headroom_phase_duration_seconds_bucket\{method="GET",route="\/search",phase="db",le="0.02"\}/,
  );
  assert.match(search, /alert: HeadroomPhaseOverBudget/);
  assert.match(search, /> 0\.05 and headroom:slo_phase_over_budget:ratio_rate5m/);
  const rum = files['rules/s-rum.rules.yml']!;
  assert.match(rum, /headroom_rum_seconds_bucket\{journey="search-page",metric="LCP",le="2.5"\}/);
  assert.match(rum, /headroom_rum_cls_bucket\{journey="search-page",le="0.1"\}/);
  assert.match(rum, /metric="LCP"\} > 0\.1$/m, '1 − 90%, exactly');
  assert.ok(files['tests/s-rum.test.yml']);
  const board = JSON.parse(files['dashboards/s.json']!) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  const titled = (title: string) => board.panels.find((p) => p.title === title);
  assert.ok(titled('Phases p95 (budgets db 20 ms)'));
  assert.equal(
    titled('Phases within budget (5m; objective 0.95)')?.targets?.[0]?.expr,
    '1 - headroom:slo_phase_over_budget:ratio_rate5m{objective="search"}',
  );
  assert.ok(titled('Real users: search-page (target 0.9 within budget)'));
  assert.ok(titled('Timings p75 (budgets LCP 2500 ms)'));
  assert.ok(titled('CLS p75 (budget 0.1)'));
  assert.equal(
    titled('Page views within budget (1h)')?.targets?.[0]?.expr,
    '1 - headroom:rum_over_budget:ratio_rate1h{journey="search-page"}',
  );
  const none = generate(
    parseSpec('service: s\nobjectives: [{ name: a, route: GET /a, latency: { p95: 5ms } }]'),
  );
  assert.equal(Object.keys(none).filter((f) => f.includes('rum')).length, 0, 'no rum: no RUM files');
});
