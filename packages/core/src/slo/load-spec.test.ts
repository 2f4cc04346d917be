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
    errors: { value: 0.001, decimal: '0.001' },
    availability: { value: 0.999, decimal: '0.999' },
    throughput: 200,
  });
  assert.deepEqual(detail?.latency, { p95: 80 });
  assert.equal(
    parseSpec('service: x\nobjectives: [{name: a, route: GET /a, errors: 1%}]').windowMs,
    30 * 86_400_000,
  );
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
