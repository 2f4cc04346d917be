// Phase budgets through the binary, as CI runs it: a local server that reports its phases in `Server-Timing`,
// one route within its budgets and one whose `db` phase breaches; every output shows the phase rows; a route with
// phase budgets whose answers carry no Server-Timing fails, saying so.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import type { RunArtifact } from '../src/artifact.ts';

const bin = join(import.meta.dirname, '..', 'src', 'bin.ts');
const spec = `service: t
objectives:
  - { name: fast, route: GET /fast, latency: { p50: 1s }, phases: { auth: 5ms, db: 20ms, serialize: 3ms } }
  - { name: slow-db, route: GET /slow-db, latency: { p50: 1s }, phases: { auth: 5ms, db: 20ms } }
  - { name: untimed, route: GET /untimed, latency: { p50: 1s }, phases: { db: 20ms } }
`;

const app = Fastify();
// The server's own account of where each request's time went: only the header matters to the gate.
app.get('/fast', async (_request, reply) => {
  reply.header('server-timing', 'auth;dur=0.4, db;dur=3.2, serialize;dur=0.2, total;dur=4.1');
  return { ok: true };
});
app.get('/slow-db', async (_request, reply) => {
  reply.header('server-timing', 'auth;dur=0.4, db;desc="search";dur=35.5, total;dur=36.2');
  return { ok: true };
});
app.get('/untimed', async () => ({ ok: true }));

let target = '';
let dir = '';
let specFile = '';
before(async () => {
  target = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-phases-'));
  specFile = join(dir, 'headroom.yaml');
  await writeFile(specFile, spec);
});
after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: `${error.stdout}${error.stderr}`,
    }),
  );

/** Loads `steps` (one flow) at 250 iterations/s for 1 s: 250 answers per route, enough for a p95. */
async function load(name: string, steps: string, extra: string[] = []) {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `name: ${name}\nvars: { tag: t1 }\nstages: [{ name: steady, duration: 1s, rate: 250/s }]\nflows: [{ name: f, steps: [${steps}] }]\n`,
  );
  return run(['load', file, '--target', target, '--spec', specFile, ...extra]);
}

test('a route whose db phase breaches its budget fails the run (exit 1), the phase named in every output', async () => {
  const out = join(dir, 'run.json');
  const junit = join(dir, 'junit.xml');
  const markdown = join(dir, 'pr.md');
  // The second step is templated: its answers go through the per-request path, the first's too.
  const { code, stdout } = await load(
    'breach',
    '{ method: GET, path: /fast }, { method: GET, path: /slow-db, headers: { x-tag: "${vars.tag}" } }',
    ['--out', out, '--junit', junit, '--markdown', markdown],
  );
  assert.equal(code, 1, stdout);
  assert.match(
    stdout,
    /\| `GET \/slow-db` \| 250 \| phase db p95 ≤ 20 ms \| 35\.50 ms \/ 20 ms \| \*\*fail\*\* \|/,
  );
  assert.match(stdout, /\| `GET \/slow-db` \| 250 \| phase auth p95 ≤ 5 ms \| 0\.40 ms \/ 5 ms \| pass \|/);
  assert.match(stdout, /\| `GET \/fast` \| 250 \| phase db p95 ≤ 20 ms \| 3\.20 ms \/ 20 ms \| pass \|/);
  assert.match(stdout, /\| `GET \/fast` \| 250 \| phase serialize p95 ≤ 3 ms \| 0\.20 ms \/ 3 ms \| pass \|/);
  assert.match(stdout, /verdict: \*\*fail\*\*/);

  const artifact = JSON.parse(await readFile(out, 'utf8')) as RunArtifact;
  const db = artifact.gate?.routes
    .find((r) => r.route === 'GET /slow-db')
    ?.checks.find((c) => c.metric === 'phase db p95');
  assert.deepEqual([db?.phase, db?.observed, db?.limit, db?.verdict], ['db', 35.5, 20, 'fail']);
  const cell = artifact.result.cells.find((c) => c.route === 'GET /slow-db');
  assert.equal(cell?.timed, 250, 'the artifact keeps the phase histograms, for reports and baselines');
  assert.deepEqual(Object.keys(cell?.phases ?? {}).sort(), ['auth', 'db']);

  const xml = await readFile(junit, 'utf8');
  assert.match(
    xml,
    /<testcase classname="GET \/slow-db" name="phase db p95 ≤ 20 ms" time="0">[\s\S]*?<failure message="phase db p95 35\.50 ms breaches phase db p95 ≤ 20 ms" type="budget"\/>/,
  );
  assert.match(
    await readFile(markdown, 'utf8'),
    /phase db p95 ≤ 20 ms \| 35\.50 ms \/ 20 ms \| \*\*fail\*\*/,
  );
});

test('every phase within its budget: exit 0, on two generator threads too', async () => {
  const { code, stdout } = await load('within', '{ method: GET, path: /fast }', ['--workers', '2']);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /\| `GET \/fast` \| 250 \| phase db p95 ≤ 20 ms \| 3\.20 ms \/ 20 ms \| pass \|/);
  assert.match(stdout, /\| `GET \/fast` \| 250 \| phase auth p95 ≤ 5 ms \| 0\.40 ms \/ 5 ms \| pass \|/);
  assert.match(stdout, /verdict: \*\*pass\*\*/);
});

test('a route with phase budgets whose answers carry no Server-Timing: insufficient data, and the run fails', async () => {
  const { code, stdout } = await load('untimed', '{ method: GET, path: /untimed }');
  assert.equal(code, 1, stdout);
  assert.match(
    stdout,
    /\| `GET \/untimed` \| 250 \| phase db p95 ≤ 20 ms \| – \/ 20 ms \| \*\*fail\*\* \(insufficient data: no answer carried Server-Timing; enable it on the server\) \|/,
  );
  assert.match(stdout, /\| `GET \/untimed` \| 250 \| p50 ≤ 1000 ms \| [\d.]+ ms \/ 1000 ms \| pass \|/);
  assert.match(
    stdout,
    /⚠ GET \/untimed: its phase budgets were not measured: none of its 250 admitted answers carried a Server-Timing header\. Enable Server-Timing/,
  );
});

test('an autocannon summary has no phases: judged on the rest, and the output says its phase budgets were not', async () => {
  const summary = join(dir, 'autocannon.json');
  await writeFile(
    summary,
    JSON.stringify({
      url: `${target}/fast`,
      duration: 1,
      latency: { p50: 1, p90: 2, p97_5: 3, p99: 4, p99_9: 5 },
      requests: { total: 500 },
      '2xx': 500,
      statusCodeStats: { 200: { count: 500 } },
    }),
  );
  const { code, stdout } = await run(['check', summary, '--from', 'autocannon', '--spec', specFile]);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /\| `GET \/fast` \| 500 \| p50 ≤ 1000 ms \| 1\.00 ms \/ 1000 ms \| pass \|/);
  assert.doesNotMatch(stdout, /\| phase /);
  assert.match(
    stdout,
    /⚠ phase budgets not judged: the source has no Server-Timing \(a k6 or autocannon summary carries none\): GET \/fast \(auth, db, serialize\)/,
  );
});
