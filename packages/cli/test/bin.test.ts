// The `headroom` binary as CI runs it: exit codes, named flags and files, per-command help.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify from 'fastify';
import { RouteStats } from '../src/stats/route-stats.ts';
import { headroom } from './support/headroom-bin.ts';
import { runArtifact } from './support/run-artifact.ts';

const root = join(import.meta.dirname, '../../..');
const scenario = join(root, 'apps/casebook/scenarios/normal.yaml');

const runOut = headroom;
const run = (args: string[]) => runOut(args).then(({ code, stderr }) => ({ code, stderr }));

test('load refuses a bad --warm-connections or --workers before sending anything (exit 2, the flag named)', async () => {
  for (const [flag, value] of [
    ['--warm-connections', '-1'],
    ['--warm-connections', 'many'],
    ['--workers', '0'],
  ] as const) {
    const { code, stderr } = await run([
      'load',
      scenario,
      '--target',
      'http://127.0.0.1:9',
      `${flag}=${value}`,
    ]);
    assert.equal(code, 2, `${flag} ${value}`);
    assert.match(stderr, new RegExp(`${flag} must be a whole number`));
  }
});

// The gate through the binary, as CI runs it: a run the spec says failed must exit 1.
const server = Fastify();
let hits = 0;
server.get('/x', async (_request, reply) => (++hits % 25 < 22 ? reply.code(429).send({}) : { ok: true }));
let target = '';
let dir = '';
before(async () => {
  target = await server.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-bin-'));
});
after(() => server.close());

async function files(spec: string, extra = '') {
  const specFile = join(dir, `spec-${Math.random()}.yaml`);
  await writeFile(specFile, spec);
  const scenarioFile = join(dir, `scenario-${Math.random()}.yaml`);
  await writeFile(
    scenarioFile,
    `name: refused\nstages:\n  - { name: steady, duration: 1s, rate: 200/s }\n${extra}flows:\n  - { name: x, steps: [{ method: GET, path: /x, status: [200, 429] }] }\n`,
  );
  return { specFile, scenarioFile };
}

test('load exits 1 when 88% of requests are 429s and the error budget counts 429; 0 when it does not', async () => {
  const counting = await files(
    'service: t\nobjectives:\n  - { name: x, route: GET /x, errors: { ratio: 1%, statuses: [5xx, 429] } }\n',
  );
  const failed = await run(['load', counting.scenarioFile, '--target', target, '--spec', counting.specFile]);
  assert.equal(failed.code, 1, failed.stderr);
  const lenient = await files('service: t\nobjectives:\n  - { name: x, route: GET /x, errors: 1% }\n');
  const passed = await run(['load', lenient.scenarioFile, '--target', target, '--spec', lenient.specFile]);
  assert.equal(passed.code, 0, passed.stderr);
});

test('load exits 1 when checks fail past the allowance, 0 within it', async () => {
  const { specFile } = await files('service: t\nobjectives:\n  - { name: x, route: GET /x, errors: 1% }\n');
  const scenarioFile = join(dir, 'checks.yaml');
  await writeFile(
    scenarioFile,
    'name: checks\nstages:\n  - { name: steady, duration: 1s, rate: 100/s }\nflows:\n  - { name: x, steps: [{ method: GET, path: /x, status: [200] }] }\n',
  );
  assert.equal((await run(['load', scenarioFile, '--target', target, '--spec', specFile])).code, 1);
  const allowed = await run([
    'load',
    scenarioFile,
    '--target',
    target,
    '--spec',
    specFile,
    '--check-failures',
    '95%',
  ]);
  assert.equal(allowed.code, 0, allowed.stderr);
});

test('load refuses a run that could measure nothing, naming the file and line (exit 2)', async () => {
  const file = join(dir, 'zero.yaml');
  await writeFile(
    file,
    'name: zero\nstages:\n  - { name: warm-up, duration: 1s, rate: 10/s }\n  - { name: idle, duration: 1s, rate: 0/s }\nflows:\n  - { name: x, steps: [{ method: GET, path: /x }] }\n',
  );
  const { code, stderr } = await run(['load', file, '--target', target]);
  assert.equal(code, 2);
  assert.match(
    stderr,
    new RegExp(`${file.replaceAll('/', '\\/')}:4: stage "idle": rate 0/s sends no request`),
  );
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'name: bad\nstages:\n  - { name: s, duration: soon, rate: 10/s }\nflows: []\n');
  const invalid = await run(['load', bad, '--target', target]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /bad\.yaml:3: \/stages\/0\/duration must match pattern/);
  assert.match(invalid.stderr, /bad\.yaml:4: \/flows must NOT have fewer than 1 items/);
});

test('check exits 1 on a k6 or autocannon summary whose 429s break the budget', async () => {
  const specFile = join(dir, 'check-spec.yaml');
  await writeFile(
    specFile,
    'service: t\nobjectives:\n  - { name: x, route: GET /x, errors: { ratio: 1%, statuses: [5xx, 429] } }\n',
  );
  const k6 = join(dir, 'k6.json');
  await writeFile(
    k6,
    JSON.stringify({
      metrics: {
        'http_req_duration{name:GET /x}': { med: 2, 'p(95)': 5 },
        'http_reqs{name:GET /x}': { count: 1000, rate: 100 },
        'http_req_failed{name:GET /x}': { passes: 880, fails: 120, value: 0.88 },
      },
    }),
  );
  assert.equal((await run(['check', k6, '--from', 'k6', '--spec', specFile])).code, 1);
  const ac = join(dir, 'ac.json');
  const autocannon = (codes: Record<string, { count: number }>) =>
    JSON.stringify({
      url: `${target}/x`,
      duration: 10,
      latency: { p50: 1, p90: 2, p97_5: 3, p99: 4, p99_9: 5 },
      requests: { total: 1000 },
      errors: 0,
      timeouts: 0,
      '2xx': codes['200']?.count ?? 0,
      statusCodeStats: codes,
    });
  await writeFile(ac, autocannon({ 200: { count: 120 }, 429: { count: 880 } }));
  assert.equal((await run(['check', ac, '--from', 'autocannon', '--spec', specFile])).code, 1);
  await writeFile(ac, autocannon({ 200: { count: 1000 } }));
  assert.equal((await run(['check', ac, '--from', 'autocannon', '--spec', specFile])).code, 0);
});

test('compare exits 1 on a regression, 0 when nothing changed', async () => {
  const artifact = (scale: number, seed: number) => {
    const cell = new RouteStats('steady', 'GET /x');
    let x = seed;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      cell.record({ intendedMs: 0, sentMs: 0, doneMs: scale * (5 + (x / 2 ** 31) * 5), status: 200 });
    }
    return JSON.stringify(runArtifact([cell]));
  };
  const write = async (name: string, scale: number, seeds: number[]) =>
    Promise.all(
      seeds.map(async (seed) => {
        const file = join(dir, `${name}-${seed}.json`);
        await writeFile(file, artifact(scale, seed));
        return file;
      }),
    );
  const base = await write('base', 1, [1, 2, 3, 4, 5]);
  const slower = await write('slower', 1.5, [6, 7, 8, 9, 10]);
  const same = await write('same', 1, [11, 12, 13, 14, 15]);
  const flags = (name: string, list: string[]) => list.flatMap((f) => [`--${name}`, f]);
  assert.equal((await run(['compare', ...flags('baseline', base), ...flags('candidate', slower)])).code, 1);
  assert.equal((await run(['compare', ...flags('baseline', base), ...flags('candidate', same)])).code, 0);
});

test('every command has its own help, and an unknown command is refused (exit 2)', async () => {
  for (const command of ['load', 'check', 'compare', 'merge', 'report']) {
    const { code, stdout } = await runOut([command, '--help']);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^headroom ${command} `));
    assert.match(stdout, /Options:\n[\s\S]*Examples:\n {2}headroom /);
  }
  const unknown = await run(['lod', 'x.yaml']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "lod"/);
});

test('the README documents every command and every flag its --help lists', async () => {
  const readme = await readFile(join(root, 'packages/cli/README.md'), 'utf8');
  const commands = [...(await runOut(['--help'])).stdout.matchAll(/^ {2}headroom ((?:db )?[a-z]+)/gm)].map(
    (m) => m[1]!,
  );
  assert.ok(commands.length >= 12, `commands: ${commands}`);
  for (const command of commands) {
    const { code, stdout } = await runOut([...command.split(' '), '--help']);
    assert.equal(code, 0, `${command} --help`);
    assert.ok(readme.includes(`headroom ${command}`), `the README has no section for headroom ${command}`);
    const flags = [...stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!);
    assert.ok(flags.length > 0, `${command}: no flags in its help`);
    for (const flag of flags.filter((f) => f !== '--help'))
      assert.ok(readme.includes(flag), `headroom ${command} ${flag} is not in the README`);
    assert.match(stdout, /Examples?:\n {2}headroom /, `${command} --help has an example`);
  }
});
