import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSpec, parseSpec } from '@headroom/core/slo';
import { routeDeadlines } from './route-deadlines.ts';

const options = { factor: 5, min: 250, max: 3_000, overrides: {} };

test("casebook's budgets become deadlines: five times the slowest percentile, within min and max", async () => {
  const spec = await loadSpec(join(import.meta.dirname, '..', '..', 'headroom.yaml'));
  const deadlines = routeDeadlines(spec, options);
  assert.equal(deadlines.get('GET /v1/cases/search'), 750, 'p99 150 ms');
  assert.equal(deadlines.get('GET /v1/cases/:id'), 500, 'p99 100 ms');
  assert.equal(deadlines.get('POST /v1/auth/login'), 1_500, 'p99 300 ms');
  for (const ms of deadlines.values()) assert.ok(ms >= 250 && ms <= 3_000);
});

test('min, max and overrides; a bad override throws naming the route', () => {
  const spec = parseSpec(
    [
      'service: s',
      'objectives:',
      '  - { name: fast, route: GET /fast, latency: { p95: 10ms } }',
      '  - { name: slow, route: GET /slow, latency: { p50: 2s } }',
      '  - { name: tuned, route: POST /tuned, latency: { p99: 100ms } }',
    ].join('\n'),
  );
  const deadlines = routeDeadlines(spec, { ...options, overrides: { 'POST /tuned': 120 } });
  assert.deepEqual(Object.fromEntries(deadlines), {
    'GET /fast': 250,
    'GET /slow': 3_000,
    'POST /tuned': 120,
  });
  assert.throws(() => routeDeadlines(spec, { ...options, overrides: { 'GET /fast': 0 } }), /GET \/fast/);
});
