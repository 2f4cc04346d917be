import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHeadroomError } from '../errors/index.ts';
import { parseSpec } from './load-spec.ts';
import type { SpecProblem } from './spec.ts';

const good = `
service: casebook
window: 28d
objectives:
  - name: case-search
    route: GET /v1/cases/search
    journey: case-search
    latency: { p50: 30ms, p95: 120ms, p99: 300ms }
    errors: 0.1%
    availability: 99.9%
    throughput: 200/s
  - name: case-detail
    route: GET /v1/cases/:id
    latency: { p95: 80ms }
`;

function problems(text: string): SpecProblem[] {
  try {
    parseSpec(text, 'spec.yaml');
  } catch (error) {
    assert.ok(isHeadroomError(error));
    assert.equal(error.code, 'HR_SPEC_INVALID');
    assert.match(error.message, /^spec\.yaml is not a valid spec/);
    return error.context.problems as SpecProblem[];
  }
  assert.fail('expected HR_SPEC_INVALID');
}

test('a good spec is normalised: durations in ms, exact ratios, rates per second', () => {
  const spec = parseSpec(good);
  assert.equal(spec.service, 'casebook');
  assert.equal(spec.windowMs, 28 * 86_400_000);
  const [search, detail] = spec.objectives;
  assert.deepEqual(search, {
    name: 'case-search',
    method: 'GET',
    route: '/v1/cases/search',
    journey: 'case-search',
    latency: { p50: 30, p95: 120, p99: 300 },
    errors: { value: 0.001, decimal: '0.001', statuses: ['5xx'] },
    availability: { value: 0.999, decimal: '0.999' },
    throughput: 200,
  });
  assert.deepEqual(detail?.latency, { p95: 80 });
  assert.equal(
    parseSpec('service: x\nobjectives: [{name: a, route: GET /a, errors: 1%}]').windowMs,
    30 * 86_400_000,
  );
});

test('an error budget can name the statuses it counts; a bad status is refused with its path', () => {
  const spec = parseSpec(
    'service: x\nobjectives: [{name: a, route: GET /a, errors: { ratio: 0.5%, statuses: [5xx, 429] }}]',
  );
  assert.deepEqual(spec.objectives[0]?.errors, { value: 0.005, decimal: '0.005', statuses: ['5xx', 429] });
  const found = problems(
    'service: x\nobjectives: [{name: a, route: GET /a, errors: { ratio: 1%, statuses: [6xx] }}]',
  );
  assert.ok(
    found.some((p) => p.path.startsWith('/objectives/0/errors')),
    JSON.stringify(found),
  );
  assert.ok(
    problems('service: x\nobjectives: [{name: a, route: GET /a, errors: { statuses: [429] }}]').length > 0,
  );
});

test('matchesStatus: a code matches itself, a class its hundred', async () => {
  const { matchesStatus } = await import('./spec.ts');
  assert.ok(matchesStatus('5xx', 503) && matchesStatus('5xx', 500) && !matchesStatus('5xx', 429));
  assert.ok(matchesStatus(429, 429) && !matchesStatus(429, 430) && matchesStatus('4xx', 404));
});

test('every schema problem is reported with its path and rule', () => {
  const found = problems(`
service: Casebook!
objectives:
  - name: a
    route: FETCH /a
    latency: { p95: fast, p42: 1ms }
    errors: 120%
  - route: GET /b
    extra: 1
`);
  const paths = found.map((p) => `${p.path} ${p.rule}`);
  for (const expected of [
    '/service pattern',
    '/objectives/0/route pattern',
    '/objectives/0/latency/p95 pattern',
    '/objectives/0/latency additionalProperties',
    '/objectives/1 required',
    '/objectives/1 additionalProperties',
  ]) {
    assert.ok(paths.includes(expected), `missing "${expected}" in ${JSON.stringify(paths)}`);
  }
  assert.ok(
    found.some((p) => p.path === '/objectives/0/latency/p95' && /250ms/.test(p.message)),
    'names the format',
  );
  const lines = Object.fromEntries(found.map((p) => [`${p.path} ${p.rule}`, p.line]));
  assert.equal(lines['/service pattern'], 2, 'each problem names its line');
  assert.equal(lines['/objectives/0/route pattern'], 5);
  assert.equal(lines['/objectives/0/latency/p95 pattern'], 6);
  assert.equal(lines['/objectives/1 required'], 8);
});

test('meaning checks: unique names and routes, percentiles that grow', () => {
  const found = problems(`
service: x
objectives:
  - { name: a, route: GET /a, latency: { p50: 200ms, p95: 100ms } }
  - { name: a, route: GET /a, errors: 1% }
`);
  assert.deepEqual(
    found.map((p) => `${p.path} ${p.rule}`),
    ['/objectives/0/latency/p95 monotonic', '/objectives/1/name unique', '/objectives/1/route unique'],
  );
  assert.deepEqual(
    found.map((p) => p.line),
    [4, 5, 5],
  );
});

test('YAML syntax errors name the line', () => {
  const [problem] = problems('service: x\nobjectives: [\n  { name: a\n');
  assert.equal(problem?.rule, 'yaml');
  assert.match(problem?.path ?? '', /^line \d+, column \d+$/);
});

test('an objective must promise something', () => {
  const found = problems('service: x\nobjectives: [{ name: a, route: GET /a }]');
  assert.ok(found.some((p) => p.path === '/objectives/0' && p.rule === 'anyOf'));
});

test('degrade rules: durations and ratios parsed, the objective resolved; a rule naming no objective is refused', () => {
  const spec = parseSpec(`${good}degrade:
  - name: search-slow
    objective: case-search
    features: [expand_depth_3, suggestions]
    watch: [p95]
    breach: { for: 30s }
    restore: { below: 80%, for: 2m }
    window: 10s
    min_samples: 50
`);
  assert.equal(spec.degrade.length, 1);
  const [rule] = spec.degrade;
  assert.equal(rule!.objective.route, '/v1/cases/search');
  assert.deepEqual(
    [rule!.breachFor, rule!.restoreBelow, rule!.restoreFor, rule!.window, rule!.minSamples, rule!.features],
    [30_000, 0.8, 120_000, 10_000, 50, ['expand_depth_3', 'suggestions']],
  );
  assert.deepEqual(rule!.percentiles, ['p95']);
  assert.deepEqual(parseSpec(good).degrade, []);
  assert.deepEqual(
    problems(`${good}degrade:\n  - { name: a, objective: case-detail, features: [x], watch: [p99] }\n`).map(
      (p) => p.path,
    ),
    ['/degrade/0/watch'],
  );
  const found = problems(`${good}degrade:
  - { name: a, objective: nowhere, features: [x] }
  - { name: b, objective: case-detail, features: [] }
`);
  assert.deepEqual(
    found.map((p) => [p.path, p.rule]),
    [['/degrade/1/features', 'minItems']],
  );
  const unresolved = problems(`${good}degrade:
  - { name: a, objective: nowhere, features: [x] }
`);
  assert.deepEqual(
    unresolved.map((p) => [p.path, p.rule]),
    [['/degrade/0/objective', 'reference']],
  );
});

test('phases, telemetry, tracing and rum: parsed with their defaults; bad entries named by path', () => {
  const spec = parseSpec(`${good}    phases: { auth: 5ms, db: 20ms }
telemetry: { tenants: { top: 20 } }
tracing: { golden: [case-search], baggage: [app.client] }
rum:
  - journey: search-page
    lcp: 2.5s
    inp: 200ms
    cls: 0.1
  - journey: detail-page
    target: 90%
    ttfb: 800ms
`);
  assert.deepEqual(spec.objectives[1]?.phases, { auth: 5, db: 20 });
  assert.equal(spec.objectives[0]?.phases, undefined);
  assert.deepEqual(spec.telemetry, { tenantTop: 20, maxSeries: 10_000 });
  assert.deepEqual(spec.tracing, { golden: ['case-search'], maxPerSecond: 100, baggage: ['app.client'] });
  assert.deepEqual(spec.rum, [
    {
      journey: 'search-page',
      target: { value: 0.75, decimal: '0.75' },
      budgets: { LCP: 2500, INP: 200, CLS: 0.1 },
    },
    { journey: 'detail-page', target: { value: 0.9, decimal: '0.9' }, budgets: { TTFB: 800 } },
  ]);
  const none = parseSpec(good);
  assert.deepEqual(none.telemetry, { tenantTop: 0, maxSeries: 10_000 });
  assert.deepEqual(none.rum, []);

  const bad = problems(`${good}    phases: { DB: 20ms, auth: fast }
tracing: { golden: [nowhere], baggage: [Authorization] }
rum:
  - journey: page
  - journey: page
    lcp: 2.5s
`);
  const paths = bad.map((p) => `${p.path} ${p.rule}`);
  assert.ok(
    paths.some((p) => p.startsWith('/objectives/1/phases')),
    paths.join('\n'),
  );
  assert.ok(
    paths.some((p) => p.startsWith('/tracing/baggage/0 pattern')),
    paths.join('\n'),
  );
  assert.ok(
    paths.some((p) => p.startsWith('/rum/0')),
    paths.join('\n'),
  );
  const meaning = problems(`${good}tracing: { golden: [nowhere] }
rum: [{ journey: page, lcp: 1s }, { journey: page, lcp: 2s }]
`);
  assert.deepEqual(
    meaning.map((p) => `${p.path} ${p.rule}`),
    ['/tracing/golden/0 reference', '/rum/1/journey unique'],
  );
});
