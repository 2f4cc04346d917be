// `headroom slo --prometheus`, through the binary, against a real Prometheus (Debian's) scraping a real service
// (Fastify with @headroom/fastify, on loopback): one objective healthy, one breached → exit 1 with both in the
// table; phase budgets judged from the plugin's phase histogram; Prometheus unreachable → exit 2.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseSpec } from '@headroom/core/slo';
import { freePort } from '@headroom/dev-servers/ports';
import { type PrometheusServer, startPrometheus } from '@headroom/dev-servers/prometheus';
import { headroom, phase } from '@headroom/fastify';
import Fastify, { type FastifyInstance } from 'fastify';

const bin = join(import.meta.dirname, '..', 'src', 'bin.ts');
const specText = `service: app
window: 30d
objectives:
  - { name: fast, route: GET /fast, latency: { p95: 50ms }, errors: 1% }
  - { name: slow, route: GET /slow, latency: { p95: 20ms }, errors: 1% }
  - { name: idle, route: GET /idle, latency: { p95: 20ms } }
`;
// The service runs with phase budgets on /phased only (its phase histogram has those routes and edges); the spec
// `headroom slo` judges asks for one more, which the service does not measure.
const serviceSpec = `${specText}  - { name: phased, route: GET /phased, latency: { p95: 1s }, phases: { auth: 100ms, db: 20ms } }
`;
const phasesSpec = `service: app
objectives:
  - { name: phased, route: GET /phased, latency: { p95: 1s }, phases: { auth: 100ms, db: 20ms } }
  - { name: fast, route: GET /fast, latency: { p95: 50ms }, phases: { db: 20ms } }
`;
let dir: string;
let app: FastifyInstance;
let prometheus: PrometheusServer;
let specFile: string;
let phasesFile: string;

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'headroom-slo-'));
  specFile = join(dir, 'headroom.yaml');
  await writeFile(specFile, specText);
  phasesFile = join(dir, 'phases.yaml');
  await writeFile(phasesFile, phasesSpec);
  app = Fastify();
  await app.register(headroom, {
    service: 'app',
    version: '1.0.0',
    defaultMetrics: false,
    spec: parseSpec(serviceSpec),
  });
  app.get('/fast', async () => ({ ok: true }));
  app.get('/slow', async () => {
    await sleep(40);
    return { ok: true };
  });
  // auth well within 100 ms (a busy test machine can stall an empty phase a few ms); the query takes 30 ms against a
  // 20 ms budget.
  app.get('/phased', async () => {
    await phase('auth', async () => {});
    await phase('db', () => sleep(30));
    return { ok: true };
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  prometheus = await startPrometheus({ dir, targets: [{ address: new URL(address).host, job: 'app' }] });
  // Traffic on every route for a few scrapes (a series first scraped after its requests shows no increase).
  const end = performance.now() + 6_000;
  while (performance.now() < end) {
    await Promise.all([
      ...Array.from({ length: 5 }, () => app.inject({ url: '/fast' })),
      ...Array.from({ length: 2 }, () => app.inject({ url: '/slow' })),
      ...Array.from({ length: 2 }, () => app.inject({ url: '/phased' })),
    ]);
    await sleep(50);
  }
  await sleep(2_500); // one more scrape after the last requests
});
after(async () => {
  await prometheus?.stop();
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test('one objective met, one breached: exit 1, the table shows both; the one without traffic is not judged', async () => {
  const { code, stdout, stderr } = await run([
    'slo',
    specFile,
    '--prometheus',
    prometheus.url,
    '--window',
    '30s',
    '--selector',
    'job="app"',
  ]);
  assert.equal(code, 1, `${stdout}${stderr}`);
  assert.match(stdout, /\| fast \| GET \/fast \| p95 \| [\d.]+ ms \| ≤ 50\.0 ms \| pass \|/);
  assert.match(stdout, /\| fast \| GET \/fast \| errors \| 0\.000% \| ≤ 1\.000% \| pass \|/);
  assert.match(stdout, /\| slow \| GET \/slow \| p95 \| [\d.]+ ms \| ≤ 20\.0 ms \| fail \|/);
  assert.match(stdout, /\| idle \| GET \/idle \| p95 \| – \| ≤ 20\.0 ms \| no traffic \|/);
  assert.match(stdout, /slo: FAIL \(1 breached, 1 without traffic\)/);
});

test('phase budgets: the share of requests within each, from the phase histogram; one the service does not measure is said', async () => {
  const { code, stdout, stderr } = await run([
    'slo',
    phasesFile,
    '--prometheus',
    prometheus.url,
    '--window',
    '30s',
    '--selector',
    'job="app"',
  ]);
  assert.equal(code, 1, `${stdout}${stderr}`);
  assert.match(stdout, /\| phased \| GET \/phased \| p95 \| [\d.]+ ms \| ≤ 1000\.0 ms \| pass \|/);
  assert.match(
    stdout,
    /\| phased \| GET \/phased \| phase auth p95 \| [\d.]+% within 100 ms \| ≥ 95\.000% within 100 ms \| pass \|/,
  );
  assert.match(
    stdout,
    /\| phased \| GET \/phased \| phase db p95 \| 0\.000% within 20 ms \| ≥ 95\.000% within 20 ms \| fail \|/,
  );
  assert.match(
    stdout,
    /\| fast \| GET \/fast \| phase db p95 \| – \| ≥ 95\.000% within 20 ms \| not measured \|/,
  );
  assert.match(stdout, /slo: FAIL \(1 breached, 0 without traffic, 1 phase budget not measured\)/);
  assert.match(
    stdout,
    /phase budgets not judged: GET \/fast: Prometheus has no headroom_phase_duration_seconds of it/,
  );
});

test('Prometheus unreachable: exit 2, and bad usage: exit 2 naming the flag', async () => {
  const port = await freePort();
  const down = await run(['slo', specFile, '--prometheus', `http://127.0.0.1:${port}`]);
  assert.equal(down.code, 2);
  assert.match(down.stderr, /Prometheus could not be read/);
  const missing = await run(['slo', specFile]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--prometheus/);
  const badWindow = await run(['slo', specFile, '--prometheus', prometheus.url, '--window', 'soon']);
  assert.equal(badWindow.code, 2);
  assert.match(badWindow.stderr, /--window/);
});
