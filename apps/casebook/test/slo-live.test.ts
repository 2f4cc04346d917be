// `headroom slo` against casebook itself: a real casebook on loopback, a real Prometheus scraping its /metrics
// (with the operator token), traffic on two routes, and the binary judging a spec this test writes: case detail
// within a generous budget (latency, errors, and its auth and rate-limit phases from casebook's phase histogram),
// search against an impossible 1 µs p50. Exit 1 naming the breached row, the healthy rows passing; exit 2 when
// Prometheus cannot be reached.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '@headroom/dev-servers/ports';
import { type PrometheusServer, startPrometheus } from '@headroom/dev-servers/prometheus';
import { until } from '@headroom/dev-servers/until';
import { startTestApp, type TestApp, testOperatorToken } from './support/app.ts';

const bin = join(import.meta.dirname, '..', '..', '..', 'packages', 'cli', 'src', 'bin.ts');
const spec = `service: casebook
window: 30d
objectives:
  - name: case-detail
    route: GET /v1/cases/:id
    latency: { p95: 2s }
    errors: 1%
    phases: { auth: 1s, ratelimit: 1s }
  - name: case-search
    route: GET /v1/cases/search
    latency: { p50: 1us }
    errors: 1%
`;

let t: TestApp;
let prometheus: PrometheusServer;
let dir: string;
let specFile: string;
let acme: string;
let caseIds: number[];

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );

/** One value of an instant query (0 when no series matched). */
async function value(promql: string): Promise<number> {
  const url = new URL('/api/v1/query', prometheus.url);
  url.searchParams.set('query', promql);
  const body = (await (await fetch(url)).json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'casebook-slo-'));
  specFile = join(dir, 'headroom.yaml');
  await writeFile(specFile, spec);
  t = await startTestApp();
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  prometheus = await startPrometheus({
    dir,
    targets: [{ address: new URL(address).host, job: 'casebook', bearer: testOperatorToken }],
  });
  acme = await t.login('analyst@acme.test');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 50",
  );
  caseIds = rows.map((r) => r.id);
});
after(async () => {
  await prometheus?.stop();
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

test('one objective healthy, one breached: exit 1, the breached row named, the healthy rows passing', async () => {
  let next = 0;
  const traffic = async () => {
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () =>
        t.as(acme, { url: `/v1/cases/${caseIds[next++ % caseIds.length]}` }),
      ),
      ...Array.from({ length: 2 }, () => t.as(acme, { url: '/v1/cases/search?q=fraud&limit=10' })),
    ]);
    for (const answer of answers) assert.equal(answer.statusCode, 200, answer.body);
  };
  // Traffic keeps flowing until Prometheus has seen it over several scrapes: a series first scraped after its
  // requests shows no increase.
  const seen = (promql: string) => value(`sum(increase(${promql}[30s]))`);
  await until(
    async () => {
      await traffic();
      const [detail, search, auth] = await Promise.all([
        seen('http_requests_total{route="/v1/cases/:id",job="casebook"}'),
        seen('http_requests_total{route="/v1/cases/search",job="casebook"}'),
        seen('headroom_phase_duration_seconds_count{route="/v1/cases/:id",phase="auth",job="casebook"}'),
      ]);
      return detail >= 30 && search >= 10 && auth >= 30;
    },
    { what: 'Prometheus to see traffic on both routes', timeout: 30_000, interval: 200 },
  );

  const { code, stdout, stderr } = await run([
    'slo',
    specFile,
    '--prometheus',
    prometheus.url,
    '--window',
    '30s',
    '--selector',
    'job="casebook"',
  ]);
  assert.equal(code, 1, `${stdout}${stderr}`);
  const row = (objective: string, route: string, metric: string, rest: string) =>
    new RegExp(`\\| ${objective} \\| ${route} \\| ${metric} \\| ${rest} \\|`);
  assert.match(
    stdout,
    row('case-detail', 'GET /v1/cases/:id', 'p95', '[\\d.]+ ms \\| ≤ 2000\\.0 ms \\| pass'),
  );
  assert.match(stdout, row('case-detail', 'GET /v1/cases/:id', 'errors', '0\\.000% \\| ≤ 1\\.000% \\| pass'));
  for (const phase of ['auth', 'ratelimit'])
    assert.match(
      stdout,
      row(
        'case-detail',
        'GET /v1/cases/:id',
        `phase ${phase} p95`,
        '[\\d.]+% within 1000 ms \\| ≥ 95\\.000% within 1000 ms \\| pass',
      ),
    );
  assert.match(
    stdout,
    row('case-search', 'GET /v1/cases/search', 'p50', '[\\d.]+ ms \\| ≤ 0\\.001 ms \\| fail'),
  );
  assert.match(
    stdout,
    row('case-search', 'GET /v1/cases/search', 'errors', '0\\.000% \\| ≤ 1\\.000% \\| pass'),
  );
  assert.match(stdout, /slo: FAIL \(1 breached, 0 without traffic\)/);
});

test('Prometheus unreachable: exit 2, saying it could not be read', async () => {
  const port = await freePort();
  const down = await run(['slo', specFile, '--prometheus', `http://127.0.0.1:${port}`]);
  assert.equal(down.code, 2, `${down.stdout}${down.stderr}`);
  assert.match(down.stderr, /headroom slo: Prometheus could not be read/);
  assert.equal(down.stdout, '');
});
