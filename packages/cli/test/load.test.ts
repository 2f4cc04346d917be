// `headroom load` against a real local server: exact arrival counts, route naming without tagging,
// captures and feeds, coordinated-omission correction, and the gate's verdicts.

import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseSpec } from '@headroom/core/slo';
import Fastify from 'fastify';
import { runParallel } from '../src/engine/parallel.ts';
import { runScenario } from '../src/engine/run.ts';
import { breachDetector, judge } from '../src/gate/judge.ts';
import { loadScenario } from '../src/scenario/load-scenario.ts';

const app = Fastify();
const seen: string[] = [];
let stallNext = 0;
app.post('/login', async (request) => ({ token: `t-${(request.body as { user: string }).user}` }));
app.get('/items/:id', async (request) => {
  seen.push(`${request.headers.authorization} ${(request.params as { id: string }).id}`);
  if (stallNext > 0) {
    const ms = stallNext;
    stallNext = 0;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
  return { id: Number((request.params as { id: string }).id), next: 7 };
});
app.get('/items/:id/parts', async () => ({ parts: [] }));
// A job that is done on its third look: queued, running, done.
const looks = new Map<string, number>();
app.get('/jobs/:id', async (request) => {
  const { id } = request.params as { id: string };
  const n = (looks.get(id) ?? 0) + 1;
  looks.set(id, n);
  return { id, status: n >= 3 ? 'done' : n === 2 ? 'running' : 'queued' };
});
let target = '';
let dir = '';
before(async () => {
  target = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-load-'));
  await writeFile(join(dir, 'ids.csv'), 'id\n11\n12\n13\n');
});
after(() => app.close());

async function scenario(yaml: string) {
  const file = join(dir, `s-${Math.random()}.yaml`);
  await writeFile(file, yaml);
  return loadScenario(file, { target });
}

const spec = parseSpec(`
service: t
objectives:
  - { name: item, route: GET /items/:id, latency: { p50: 1000ms, p99: 2000ms }, errors: 1% }
  - { name: parts, route: GET /items/:id/parts, latency: { p50: 0.001ms } }
`);

test('an open model starts exactly the scheduled iterations; routes, captures and feeds work', async () => {
  seen.length = 0;
  const s = await scenario(`
name: t
model: open
setup:
  - { method: POST, path: /login, json: { user: ada }, capture: { token: "$.token" } }
feeds: { ids: { file: ids.csv } }
stages:
  - { name: a, duration: 500ms, rate: 40/s }
  - { name: b, duration: 500ms, rate: 80/s }
flows:
  - name: f
    steps:
      - { method: GET, path: "/items/\${feed.ids.id}", headers: { authorization: "Bearer \${token}" }, capture: { next: "$.next" } }
      - { method: GET, path: "/items/\${next}/parts" }
`);
  const result = await runScenario(s, { routes: spec.objectives.map((o) => `${o.method} ${o.route}`) });
  assert.deepEqual(
    result.stages.map((st) => st.iterations),
    [20, 40],
  );
  const routes = new Set(result.cells.map((c) => c.route));
  assert.deepEqual([...routes].sort(), ['GET /items/:id', 'GET /items/:id/parts']);
  assert.ok(result.timeline.length >= 1, 'the run ticked');
  assert.equal(result.seconds.length, 0, 'no per-second cells kept without a spike block');
  const first = result.cells.find((c) => c.stage === 'a' && c.route === 'GET /items/:id')!;
  assert.equal(first.count, 20);
  assert.deepEqual(seen.slice(0, 4), [
    'Bearer t-ada 11',
    'Bearer t-ada 12',
    'Bearer t-ada 13',
    'Bearer t-ada 11',
  ]);

  const gate = judge(result, spec);
  const item = gate.routes.find((r) => r.route === 'GET /items/:id')!;
  assert.equal(item.checks.find((c) => c.metric === 'p50')?.verdict, 'pass');
  assert.equal(
    item.checks.find((c) => c.metric === 'p99')?.verdict,
    'insufficient',
    '60 samples cannot judge a p99',
  );
  assert.equal(gate.routes.find((r) => r.route === 'GET /items/:id/parts')?.verdict, 'fail');
  assert.equal(gate.verdict, 'fail');
});

test('latency counts from the intended start: a stall shows in the corrected figures, not the raw ones', async () => {
  const s = await scenario(`
name: stall
stages: [{ name: s, duration: 1s, rate: 50/s }]
flows: [{ name: f, steps: [{ method: GET, path: /items/1 }] }]
`);
  stallNext = 400;
  const result = await runScenario(s, { connections: 1, routes: ['GET /items/:id'] });
  const cell = result.cells[0]!;
  assert.equal(cell.count, 50);
  // With one connection, the 20 requests scheduled during the 400 ms stall wait behind it.
  assert.ok(cell.percentileMs(90, 'corrected') > 100, `corrected p90 ${cell.percentileMs(90, 'corrected')}`);
  assert.ok(cell.percentileMs(50, 'raw') < 50, `raw p50 ${cell.percentileMs(50, 'raw')}`);
  // The generator itself (nearly) kept to the schedule: the delay is the server's, queued behind the one
  // socket. A start or two may slip on a machine busy with other test files.
  assert.ok(result.stages[0]!.lateStarts <= 3, `${result.stages[0]!.lateStarts} late starts`);
});

test('a closed model runs virtual users back to back', async () => {
  const s = await scenario(`
name: closed
model: closed
stages: [{ name: s, duration: 300ms, vus: 2, thinkTime: 50ms }]
flows: [{ name: f, steps: [{ method: GET, path: /items/2 }] }]
`);
  const result = await runScenario(s);
  const iterations = result.stages[0]!.iterations;
  assert.ok(iterations >= 4 && iterations <= 14, `${iterations} iterations for 2 VUs × 300 ms / ~50 ms`);
});

test('bad scenarios are rejected with the path of every problem', async () => {
  await assert.rejects(
    scenario('name: x\nstages: [{ name: s, duration: fast }]\nflows: []\n'),
    (error: Error) => /\/stages\/0\/duration/.test(error.message) && /\/flows/.test(error.message),
  );
});

test('two generator threads share one schedule: exact total, feed rows in order, histograms merged', async () => {
  seen.length = 0;
  const file = join(dir, 'parallel.yaml');
  await writeFile(
    file,
    `name: p
setup:
  - { method: POST, path: /login, json: { user: grace }, capture: { token: "$.token" } }
feeds: { ids: { file: ids.csv } }
stages: [{ name: s, duration: 1s, rate: 60/s }]
flows: [{ name: f, steps: [{ method: GET, path: "/items/\${feed.ids.id}", headers: { authorization: "Bearer \${token}" } }] }]
`,
  );
  const s = await loadScenario(file, { target });
  const starts: number[] = [];
  const result = await runParallel(s, file, {
    workers: 2,
    routes: ['GET /items/:id'],
    onStart: (startMs) => starts.push(startMs, seen.length),
  });
  assert.deepEqual(
    starts.slice(1),
    [0],
    'onStart came once, after the threads loaded and before any arrival',
  );
  assert.ok(starts[0]! > 0 && starts[0]! <= performance.now());
  assert.equal(result.stages[0]?.iterations, 60);
  assert.equal(result.cells.length, 1);
  assert.equal(result.cells[0]?.count, 60);
  assert.ok(
    seen.every((line) => line.startsWith('Bearer t-grace')),
    'setup ran once, its token reached both threads',
  );
  const ids = seen.map((line) => line.split(' ').at(-1));
  assert.deepEqual(
    ids.filter((id) => id === '11').length,
    20,
    'rows cycle by global iteration across threads',
  );
});

test('a breach that is already certain stops the run early', async () => {
  const failing = Fastify();
  failing.get('/boom', async (_request, reply) => reply.code(500).send({ error: 'boom' }));
  const url = await failing.listen({ port: 0, host: '127.0.0.1' });
  try {
    const file = join(dir, 'abort.yaml');
    await writeFile(
      file,
      'name: a\nstages: [{ name: s, duration: 10s, rate: 100/s }]\nflows: [{ name: f, steps: [{ method: GET, path: /boom }] }]\n',
    );
    const s = await loadScenario(file, { target: url });
    const boomSpec = parseSpec('service: t\nobjectives: [{ name: boom, route: GET /boom, errors: 1% }]');
    const started = performance.now();
    const result = await runScenario(s, { routes: ['GET /boom'], abortWhen: breachDetector(boomSpec) });
    assert.match(result.aborted ?? '', /GET \/boom: error share 100\.00% over 0\.01/);
    assert.ok(performance.now() - started < 5000, 'stopped long before the 10 s schedule');
    assert.ok(result.stages[0]!.iterations < 500);
  } finally {
    await failing.close();
  }
});

test('every casebook scenario loads (the load profiles extend golden-path.yaml; export.yaml is journey 4)', async () => {
  const folder = join(import.meta.dirname, '..', '..', '..', 'apps', 'casebook', 'scenarios');
  for (const name of ['golden-path', 'warm-up', 'normal', 'peak', 'sustained', 'spike', 'soak', 'capacity']) {
    const s = await loadScenario(join(folder, `${name}.yaml`));
    assert.equal(s.name, name);
    assert.equal(s.flows.length, 2, `${name} inherits the flows`);
    assert.ok(s.spec?.endsWith('headroom.yaml'));
  }
  const exports = await loadScenario(join(folder, 'export.yaml'));
  assert.deepEqual(
    exports.flows[0]!.steps.map((step) => `${step.method} ${step.path}${step.poll ? ' (poll)' : ''}`),
    ['POST /v1/exports', 'GET /v1/exports/${exportId} (poll)', 'GET /v1/exports/${exportId}/download'],
  );
});

test('body expectations count as failed checks when the answer disagrees', async () => {
  const s = await scenario(`
name: expect
stages: [{ name: s, duration: 500ms, rate: 20/s }]
flows:
  - name: f
    steps:
      - { method: GET, path: /items/5, expect: { "$.id": 5, "$.next": exists } }
      - { method: GET, path: /items/6, expect: { "$.id": 5 } }
`);
  const result = await runScenario(s, { routes: ['GET /items/:id'] });
  const cell = result.cells.find((c) => c.route === 'GET /items/:id')!;
  // Each iteration: the first step passes, the second fails its check (and ends the iteration).
  assert.equal(cell.count, 20);
  assert.equal(cell.failedChecks, 10);
});

test('poll: a step is sent again until its answer says done, each request counted; one that never gets there fails', async () => {
  looks.clear();
  const s = await scenario(`
name: poll
stages: [{ name: s, duration: 250ms, rate: 8/s }]
flows:
  - name: f
    steps:
      - { method: GET, path: "/jobs/\${int(1, 1000000000)}", poll: { until: { "$.status": done }, every: 10ms } }
      - { method: GET, path: /items/1 }
`);
  assert.deepEqual(s.flows[0]!.steps[0]!.poll, { until: { '$.status': 'done' }, everyMs: 10, max: 60 });
  const result = await runScenario(s, { routes: ['GET /jobs/:id', 'GET /items/:id'] });
  const jobs = result.cells.find((c) => c.route === 'GET /jobs/:id')!;
  const items = result.cells.find((c) => c.route === 'GET /items/:id')!;
  assert.equal(jobs.count, 3 * items.count, 'three looks per iteration: queued, running, done');
  assert.equal(jobs.failedChecks, 0);
  assert.ok(items.count >= 1);

  const impatient = await scenario(`
name: poll-max
stages: [{ name: s, duration: 250ms, rate: 8/s }]
flows:
  - name: f
    steps:
      - { method: GET, path: "/jobs/x\${int(1, 1000000000)}", poll: { until: { "$.status": done }, every: 1ms, max: 2 } }
      - { method: GET, path: /items/1 }
`);
  const gaveUp = await runScenario(impatient, { routes: ['GET /jobs/:id', 'GET /items/:id'] });
  const polled = gaveUp.cells.find((c) => c.route === 'GET /jobs/:id')!;
  assert.equal(polled.failedChecks * 2, polled.count, 'each iteration: two looks, the second a failed check');
  assert.equal(
    gaveUp.cells.find((c) => c.route === 'GET /items/:id')?.count ?? 0,
    0,
    'the iteration ends there',
  );
});

test('a flow with nothing to render runs its prepared steps in order and stops at a failed status check', async () => {
  seen.length = 0;
  const s = await scenario(`
name: plain
stages: [{ name: s, duration: 500ms, rate: 40/s }]
flows:
  - name: f
    steps:
      - { method: GET, path: /items/3, headers: { authorization: Bearer fixed } }
      - { method: GET, path: /items/3/parts, status: [201] }
      - { method: GET, path: /items/4 }
`);
  const result = await runScenario(s, {
    routes: ['GET /items/:id', 'GET /items/:id/parts'],
    warmConnections: 4,
  });
  assert.equal(result.stages[0]?.iterations, 20);
  const item = result.cells.find((c) => c.route === 'GET /items/:id')!;
  const parts = result.cells.find((c) => c.route === 'GET /items/:id/parts')!;
  assert.equal(item.count, 20, 'the third step never ran');
  assert.equal(parts.count, 20);
  assert.equal(parts.failedChecks, 20);
  assert.deepEqual(parts.status, { '2xx': 20 });
  assert.ok(seen.length === 20 && seen.every((line) => line === 'Bearer fixed 3'));
});
