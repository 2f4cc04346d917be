// The RUM beacon route on a bare Fastify app: accepted beacons in the histograms, every refusal a problem naming
// its field, the per-client rate limit on a FakeClock, promtool-clean metrics, and no 5xx for any body.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import Fastify, { type InjectOptions, type LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { headroom } from '../src/index.ts';
import { type RumOptions, rumRoutes } from '../src/rum.ts';

const journeys = ['case-search', 'case-view'];

function build(options: Partial<RumOptions> = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const app = Fastify();
  rumRoutes(app, registry, { journeys, clock, ...options });
  return { app, registry, clock };
}

const beacon = {
  journey: 'case-search',
  metrics: [
    { name: 'TTFB', value: 420, rating: 'good', id: 'v4-1-1', navigationType: 'navigate' },
    { name: 'FCP', value: 1200, rating: 'good', id: 'v4-1-2', navigationType: 'navigate' },
    { name: 'LCP', value: 2100, rating: 'good', id: 'v4-1-3', navigationType: 'navigate' },
    { name: 'INP', value: 350, rating: 'needs-improvement', id: 'v4-1-4', navigationType: 'navigate' },
    { name: 'CLS', value: 0.12, rating: 'needs-improvement', id: 'v4-1-5', navigationType: 'navigate' },
  ],
};

const post = (body: unknown, contentType = 'application/json'): InjectOptions => ({
  method: 'POST',
  url: '/rum',
  headers: { 'content-type': contentType },
  payload: typeof body === 'string' ? body : JSON.stringify(body),
});

function assertProblem(res: LightMyRequestResponse, status: number, code: string, field?: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const body = res.json();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  if (field !== undefined) assert.equal(body.field, field, res.body);
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('a valid beacon is a 204 and lands in the histograms, timings in seconds', async () => {
  const { app, registry } = build();
  const res = await app.inject(post(beacon));
  assert.equal(res.statusCode, 204);
  assert.equal(res.body, '');
  const text = await registry.metrics();
  const lcp = 'journey="case-search",metric="LCP"';
  assert.equal(sample(text, `headroom_rum_seconds_count{${lcp}}`), 1);
  assert.equal(sample(text, `headroom_rum_seconds_sum{${lcp}}`), 2.1);
  assert.equal(sample(text, `headroom_rum_seconds_bucket{le="1.8",${lcp}}`), 0);
  assert.equal(sample(text, `headroom_rum_seconds_bucket{le="2.5",${lcp}}`), 1);
  assert.equal(sample(text, 'headroom_rum_seconds_count{journey="case-search",metric="INP"}'), 1);
  assert.equal(sample(text, 'headroom_rum_cls_count{journey="case-search"}'), 1);
  assert.equal(sample(text, 'headroom_rum_cls_bucket{le="0.1",journey="case-search"}'), 0);
  assert.equal(sample(text, 'headroom_rum_cls_bucket{le="0.15",journey="case-search"}'), 1);
  assert.equal(sample(text, 'headroom_rum_beacons_total{result="accepted"}'), 1);
  assert.equal(
    sample(text, 'headroom_rum_seconds_count{journey="case-view",metric="LCP"}'),
    0,
    'every journey has its series from the start',
  );
});

test('a text/plain body (navigator.sendBeacon) is parsed as JSON; other routes keep text/plain as text', async () => {
  const { app, registry } = build({ path: '/v1/rum' });
  app.post('/echo', async (request) => ({ type: typeof request.body, body: request.body }));
  const beaconRequest = { ...post(beacon, 'text/plain;charset=UTF-8'), url: '/v1/rum' };
  assert.equal((await app.inject(beaconRequest)).statusCode, 204);
  assert.equal((await app.inject({ ...post(beacon, 'text/plain'), url: '/v1/rum' })).statusCode, 204);
  const echo = await app.inject({ ...post('{"a":1}', 'text/plain'), url: '/echo' });
  assert.deepEqual(echo.json(), { type: 'string', body: '{"a":1}' });
  assert.equal(sample(await registry.metrics(), 'headroom_rum_beacons_total{result="accepted"}'), 2);
});

const one = (metric: Record<string, unknown>) => ({ journey: 'case-search', metrics: [metric] });

const refusals: {
  name: string;
  request: InjectOptions;
  status: number;
  code: string;
  field: string;
}[] = [
  {
    name: 'unknown journey',
    request: post({ ...beacon, journey: 'checkout' }),
    status: 422,
    code: 'HR_UNKNOWN_JOURNEY',
    field: 'body.journey',
  },
  {
    name: 'journey inherited from Object.prototype',
    request: post({ ...beacon, journey: 'constructor' }),
    status: 422,
    code: 'HR_UNKNOWN_JOURNEY',
    field: 'body.journey',
  },
  {
    name: 'unknown metric',
    request: post(one({ name: 'FID', value: 10 })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.name',
  },
  {
    name: 'NaN literal',
    request: post('{"journey":"case-search","metrics":[{"name":"LCP","value":NaN}]}'),
    status: 400,
    code: 'HR_MALFORMED_JSON',
    field: 'body',
  },
  {
    name: 'NaN as a string',
    request: post(one({ name: 'LCP', value: 'NaN' })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.value',
  },
  {
    name: 'negative value',
    request: post(one({ name: 'INP', value: -1 })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.value',
  },
  {
    name: 'timing over two minutes',
    request: post(one({ name: 'LCP', value: 120_001 })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.value',
  },
  {
    name: 'CLS over 100',
    request: post(one({ name: 'CLS', value: 101 })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.value',
  },
  {
    name: '1e999 (Infinity once parsed)',
    request: post('{"journey":"case-search","metrics":[{"name":"TTFB","value":1e999}]}'),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.value',
  },
  {
    name: 'extra property on a metric',
    request: post(one({ name: 'LCP', value: 1, entries: [] })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.entries',
  },
  {
    name: 'extra property on the beacon',
    request: post({ ...beacon, url: 'https://example.test/' }),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.url',
  },
  {
    name: 'bad rating',
    request: post(one({ name: 'LCP', value: 1, rating: 'great' })),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.rating',
  },
  {
    name: 'unpaired surrogate in id',
    request: post('{"journey":"case-search","metrics":[{"name":"LCP","value":1,"id":"\\ud800"}]}'),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics.0.id',
  },
  {
    name: '11 metrics',
    request: post({ journey: 'case-search', metrics: Array.from({ length: 11 }, () => beacon.metrics[0]) }),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics',
  },
  {
    name: 'no metrics',
    request: post({ journey: 'case-search', metrics: [] }),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.metrics',
  },
  {
    name: 'a bare metric instead of a beacon',
    request: post({ name: 'LCP', value: 1 }),
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body.journey',
  },
  {
    name: 'oversized body',
    request: post({ ...beacon, journey: 'x'.repeat(9000) }),
    status: 413,
    code: 'HR_BODY_TOO_LARGE',
    field: 'body',
  },
  {
    name: 'malformed JSON',
    request: post('{"journey":"case-search","metrics":['),
    status: 400,
    code: 'HR_MALFORMED_JSON',
    field: 'body',
  },
  {
    name: 'prototype poisoning',
    request: post('{"journey":"case-search","metrics":[],"__proto__":{"x":1}}'),
    status: 400,
    code: 'HR_MALFORMED_JSON',
    field: 'body',
  },
  {
    name: 'empty JSON body',
    request: post(''),
    status: 400,
    code: 'HR_MALFORMED_JSON',
    field: 'body',
  },
  {
    name: 'empty text/plain body',
    request: post('', 'text/plain'),
    status: 400,
    code: 'HR_MALFORMED_JSON',
    field: 'body',
  },
  {
    name: 'no body at all',
    request: { method: 'POST', url: '/rum' },
    status: 400,
    code: 'HR_VALIDATION',
    field: 'body',
  },
  {
    name: 'form-encoded body',
    request: post('journey=case-search', 'application/x-www-form-urlencoded'),
    status: 415,
    code: 'HR_UNSUPPORTED_MEDIA_TYPE',
    field: 'headers.content-type',
  },
];

for (const refusal of refusals) {
  test(`refused with a problem naming the field: ${refusal.name}`, async () => {
    const { app, registry } = build();
    assertProblem(await app.inject(refusal.request), refusal.status, refusal.code, refusal.field);
    const text = await registry.metrics();
    assert.equal(sample(text, 'headroom_rum_beacons_total{result="invalid"}'), 1);
    assert.equal(sample(text, 'headroom_rum_beacons_total{result="accepted"}'), 0);
    assert.equal(sample(text, 'headroom_rum_seconds_count{journey="case-search",metric="LCP"}'), 0);
  });
}

test('a client over its rate gets 429 with Retry-After, and is let in again once the clock moves', async () => {
  const { app, registry, clock } = build({ rateLimit: { perSecond: 2, burst: 3 } });
  for (let i = 0; i < 3; i++) assert.equal((await app.inject(post(beacon))).statusCode, 204);
  const limited = await app.inject(post(beacon));
  assertProblem(limited, 429, 'HR_RATE_LIMITED');
  assert.equal(limited.headers['retry-after'], '1');
  assert.equal(limited.headers['ratelimit-policy'], '"rum";q=2;w=1');
  const other = await app.inject({ ...post(beacon), remoteAddress: '192.0.2.7' });
  assert.equal(other.statusCode, 204, 'another client has its own bucket');
  clock.advance(499);
  assert.equal((await app.inject(post(beacon))).statusCode, 429);
  clock.advance(1);
  assert.equal((await app.inject(post(beacon))).statusCode, 204, 'one beacon per 500 ms at 2/s');
  const text = await registry.metrics();
  assert.equal(sample(text, 'headroom_rum_beacons_total{result="rate_limited"}'), 2);
  assert.equal(sample(text, 'headroom_rum_beacons_total{result="accepted"}'), 5);
});

test('the exposition passes promtool check metrics', async () => {
  const { app, registry } = build();
  await app.inject(post(beacon));
  await app.inject(post({ ...beacon, journey: 'checkout' }));
  const lint = spawnSync('promtool', ['check', 'metrics'], {
    input: await registry.metrics(),
    encoding: 'utf8',
  });
  assert.equal(lint.error, undefined, 'promtool (Debian package prometheus) is installed');
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no warning either');
});

test('bad options throw HR_INVALID_OPTION naming the option', () => {
  const app = Fastify();
  const registry = new Registry();
  const cases: [Partial<RumOptions>, RegExp][] = [
    [{ journeys: [] }, /"journeys"/],
    [{ journeys: ['a', 'a'] }, /"journeys"/],
    [{ journeys: ['x'.repeat(65)] }, /"journeys"/],
    [{ path: 'rum' }, /"path"/],
    [{ maxBodyBytes: 0 }, /"maxBodyBytes"/],
    [{ rateLimit: { perSecond: 0.5, burst: 1 } }, /"rateLimit.perSecond"/],
    [{ rateLimit: { perSecond: 1, burst: 0 } }, /"rateLimit.burst"/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => rumRoutes(app, registry, { journeys, ...options }), {
      code: 'HR_INVALID_OPTION',
      message,
    });
  }
});

// A seeded generator (mulberry32): a failure names its seed and iteration, and reruns the same way.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const oddStrings = [
  '',
  'case-search',
  'CLS',
  'LCP',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\ufeff',
  '\u2028\u2029',
  '\u202e',
  '😀',
  'e\u0301',
  '__proto__',
  'constructor',
  'x'.repeat(300),
  '"}]',
];
const oddNumbers = [
  0,
  -0,
  1,
  -1,
  0.1,
  100,
  101,
  120_000,
  120_001,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_SAFE_INTEGER,
];

function fuzzBody(next: () => number): string | Buffer {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const value = (depth: number): unknown => {
    const roll = next();
    if (roll < 0.25) return pick(oddStrings);
    if (roll < 0.5) return pick(oddNumbers);
    if (roll < 0.6) return pick([true, false, null]);
    if (depth > 3) return pick(oddStrings);
    if (roll < 0.8) return Array.from({ length: Math.floor(next() * 12) }, () => value(depth + 1));
    const object: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i--) object[pick(oddStrings)] = value(depth + 1);
    return object;
  };
  const mutated = (): unknown => {
    const copy = structuredClone(beacon) as Record<string, unknown> & { metrics: Record<string, unknown>[] };
    const metric = pick(copy.metrics);
    const field = pick(['name', 'value', 'rating', 'id', 'navigationType', pick(oddStrings)]);
    if (next() < 0.3) delete metric[field];
    else metric[field] = value(2);
    if (next() < 0.3) copy[pick(['journey', 'metrics', pick(oddStrings)])] = value(1);
    return copy;
  };
  const kind = next();
  if (kind < 0.4) return JSON.stringify(mutated());
  if (kind < 0.7) return JSON.stringify(value(0)) ?? '';
  if (kind < 0.85) {
    const text = JSON.stringify(mutated());
    return text.slice(0, Math.floor(next() * text.length));
  }
  return Buffer.from(Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256)));
}

test('no body, however odd, gets a 5xx; every refusal is a problem with a code and a field', async () => {
  const seed = 20_260_101;
  const next = random(seed);
  const { app, clock } = build();
  const seen = new Set<string>();
  const contentTypes = [
    'application/json',
    'text/plain',
    'text/plain;charset=UTF-8',
    'application/json; charset=utf-8',
  ];
  for (let i = 0; i < 300; i++) {
    const payload = fuzzBody(next);
    const contentType = contentTypes[Math.floor(next() * contentTypes.length)]!;
    const res = await app.inject({
      method: 'POST',
      url: '/rum',
      headers: { 'content-type': contentType },
      payload,
    });
    const where = `seed ${seed}, iteration ${i}: ${String(payload).slice(0, 200)} → ${res.statusCode} ${res.body}`;
    assert.ok(res.statusCode < 500, where);
    if (res.statusCode === 204) seen.add('204');
    else {
      assert.ok(res.statusCode >= 400, where);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', where);
      const body = res.json();
      assert.match(body.code, /^HR_[A-Z_]+$/, where);
      assert.equal(typeof body.field, 'string', where);
      seen.add(body.code);
    }
    clock.advance(100); // 10 a second: under the default rate, so every answer is about the body
  }
  for (const outcome of ['204', 'HR_VALIDATION', 'HR_MALFORMED_JSON']) {
    assert.ok(
      seen.has(outcome),
      `the bodies reach past the parser and the schema too: ${[...seen].join(', ')}`,
    );
  }
});

test('the plugin’s rum option serves the route and its metrics in /metrics', async () => {
  const app = Fastify();
  await app.register(headroom, {
    service: 'rum-test',
    version: '1.0.0',
    defaultMetrics: false,
    clock: new FakeClock(),
    rum: { journeys: ['case-search'] },
  });
  const beacon = await app.inject({
    method: 'POST',
    url: '/rum',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    payload: JSON.stringify({ journey: 'case-search', metrics: [{ name: 'LCP', value: 1200 }] }),
  });
  assert.equal(beacon.statusCode, 204);
  const unknown = await app.inject({
    method: 'POST',
    url: '/rum',
    payload: { journey: 'nope', metrics: [{ name: 'LCP', value: 1 }] },
  });
  assert.equal(unknown.statusCode, 422);
  assert.equal(unknown.json().code, 'HR_UNKNOWN_JOURNEY');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(metrics, /headroom_rum_seconds_count\{journey="case-search",metric="LCP"\} 1/);
  assert.match(metrics, /headroom_rum_beacons_total\{result="invalid"\} 1/);
  await app.close();
});

test('the spec’s real-user budgets are bucket edges: the share within budget is exact', async () => {
  const { registry } = build({ budgets: [{ budgets: { LCP: 2_200, INP: 150, CLS: 0.07 } }] });
  const text = await registry.metrics();
  assert.match(text, /^headroom_rum_seconds_bucket\{le="2\.2",journey="case-search",metric="LCP"\} 0$/m);
  assert.match(text, /^headroom_rum_seconds_bucket\{le="0\.15",journey="case-search",metric="INP"\} 0$/m);
  assert.match(text, /^headroom_rum_cls_bucket\{le="0\.07",journey="case-search"\} 0$/m);
  // web-vitals' own thresholds stay edges too
  assert.match(text, /^headroom_rum_seconds_bucket\{le="2\.5",journey="case-search",metric="LCP"\} 0$/m);
});
