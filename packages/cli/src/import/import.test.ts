import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '@headroom/core/slo';
import { judgeFigures } from '../gate/judge.ts';
import { importAutocannon } from './autocannon.ts';
import { importK6 } from './k6.ts';

const spec = parseSpec(`service: t
objectives:
  - { name: search, route: GET /v1/cases/search, latency: { p50: 30ms, p95: 120ms, p99: 300ms }, errors: 1% }
  - { name: detail, route: GET /v1/cases/:id, latency: { p95: 100ms }, errors: 1% }
`);

test('a k6 --summary-export with tagged sub-metrics is judged per route', () => {
  const summary = {
    state: { testRunDurationMs: 60_000 },
    metrics: {
      http_req_duration: { avg: 50, med: 20, 'p(90)': 80, 'p(95)': 110, max: 900 },
      'http_req_duration{name:GET /v1/cases/search}': { med: 25, 'p(90)': 90, 'p(95)': 130, 'p(99)': 250 },
      'http_reqs{name:GET /v1/cases/search}': { count: 6000, rate: 100 },
      'http_req_failed{name:GET /v1/cases/search}': { passes: 6, fails: 5994, value: 0.001 },
      'http_req_duration{name:GET /v1/cases/:id}': { med: 10, 'p(95)': 40 },
      'http_reqs{name:GET /v1/cases/:id}': { count: 3000, rate: 50 },
      http_reqs: { count: 9000, rate: 150 },
      http_req_failed: { passes: 6, fails: 8994, value: 0.000667 },
    },
  };
  const run = importK6(summary);
  assert.equal(run.seconds, 60);
  assert.deepEqual([...run.routes.keys()].sort(), ['ALL', 'GET /v1/cases/:id', 'GET /v1/cases/search']);
  const gate = judgeFigures(run.routes, spec);
  const search = gate.routes.find((r) => r.route === 'GET /v1/cases/search')!;
  assert.equal(search.checks.find((c) => c.metric === 'p95')?.verdict, 'fail', '130 ms > 120 ms');
  assert.equal(search.checks.find((c) => c.metric === 'p99')?.verdict, 'pass');
  assert.equal(search.checks.find((c) => c.metric === 'errors')?.verdict, 'pass');
  assert.equal(gate.routes.find((r) => r.route === 'GET /v1/cases/:id')?.verdict, 'pass');
  assert.equal(gate.verdict, 'fail');
});

test('handleSummary data (values nested) reads the same; a missing percentile is insufficient, not guessed', () => {
  const run = importK6({
    metrics: {
      'http_req_duration{name:GET /v1/cases/search}': { type: 'trend', values: { med: 25, 'p(95)': 100 } },
      'http_reqs{name:GET /v1/cases/search}': { type: 'counter', values: { count: 6000, rate: 100 } },
    },
  });
  const search = judgeFigures(run.routes, spec).routes.find((r) => r.route === 'GET /v1/cases/search')!;
  assert.equal(search.checks.find((c) => c.metric === 'p95')?.verdict, 'pass');
  const p99 = search.checks.find((c) => c.metric === 'p99');
  assert.equal(p99?.verdict, 'insufficient');
  assert.equal(p99?.note, 'not in the source');
});

test('an autocannon result is one route; its missing p95 is insufficient', () => {
  const run = importAutocannon(
    {
      url: 'http://127.0.0.1:3000/v1/cases/search?q=fraud',
      duration: 10,
      latency: { p50: 2, p90: 5, p97_5: 9, p99: 12, p99_9: 30 },
      requests: { total: 20_000 },
      errors: 0,
      timeouts: 0,
      '5xx': 0,
    },
    undefined,
  );
  const [route] = judgeFigures(run.routes, spec).routes;
  assert.equal(route?.route, 'GET /v1/cases/search');
  assert.equal(route?.checks.find((c) => c.metric === 'p50')?.verdict, 'pass');
  assert.equal(route?.checks.find((c) => c.metric === 'p95')?.verdict, 'insufficient');
});

test('something that is not a summary is refused', () => {
  assert.throws(() => importK6({}), /not a k6 summary/);
  assert.throws(() => importAutocannon({}), /not an autocannon result/);
});
