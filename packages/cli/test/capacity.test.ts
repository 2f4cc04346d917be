// `headroom capacity` through the binary against a real local server that serves 100 requests a second and
// refuses (429) beyond: the bisection lands at or under that, the instances for a peak follow capacity planning's
// formula from the capacity printed, a service that holds nothing exits 1, and bad flags exit 2.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { instancesFor } from '../src/capacity.ts';
import { fixedCapacity } from './support/fixed-capacity.ts';
import { headroom } from './support/headroom-bin.ts';

// Serves `server.rate` requests a second (bursts of 10) and refuses (429) beyond.
const server = fixedCapacity({ rate: 100, burst: 10 });
const app = server.app;

let target = '';
let dir = '';
before(async () => {
  target = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-capacity-'));
  await writeFile(
    join(dir, 'headroom.yaml'),
    'service: work\nobjectives:\n  - { name: work, route: GET /work, latency: { p50: 1s }, errors: { ratio: 1%, statuses: [5xx, 429] }, phases: { work: 100ms } }\n',
  );
  await writeFile(
    join(dir, 'load.yaml'),
    'name: work\nstages: [{ name: s, duration: 1s, rate: 1/s }]\nflows: [{ name: work, steps: [{ method: GET, path: /work, status: [200, 429] }] }]\ncheckFailures: 100%\n',
  );
});
after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

async function capacityRun(args: string[]) {
  const { code, stdout, stderr } = await headroom([
    'capacity',
    join(dir, 'load.yaml'),
    '--target',
    target,
    '--spec',
    join(dir, 'headroom.yaml'),
    ...args,
  ]);
  return { code, stdout: stdout + stderr };
}

test('the bisection finds the rate the service holds, and plans instances for a peak', async () => {
  server.rate = 100;
  server.reset();
  const { code, stdout } = await capacityRun([
    '--min',
    '10',
    '--max',
    '400',
    '--probe',
    '2s',
    '--probes',
    '6',
    '--pause',
    '300ms',
    '--peak',
    '1000',
  ]);
  assert.equal(code, 0, stdout);
  assert.match(
    stdout,
    /\| 1 \| 400 \| [\d.]+ \| no \| GET \/work errors/,
    'the highest rate is probed first, and fails',
  );
  // The spec budgets a phase: each probe reads it from Server-Timing, and it holds (never a failure).
  assert.doesNotMatch(
    stdout,
    /\| (yes|no) \| [^|]*phase work/,
    'the phase budget is judged on Server-Timing',
  );
  const found = Number(/^capacity: (\d+)\/s holds the SLO$/m.exec(stdout)?.[1]);
  assert.ok(found >= 40 && found <= 110, `capacity ${found} near the server's 100/s:\n${stdout}`);
  const instances = Number(/^instances for a peak of 1000\/s: (\d+) /m.exec(stdout)?.[1]);
  assert.equal(instances, instancesFor(1000, found, 1.5));
});

test('a service that holds not even the lowest rate: exit 1', async () => {
  server.rate = 2;
  server.reset();
  const { code, stdout } = await capacityRun([
    '--min',
    '50',
    '--max',
    '100',
    '--probe',
    '1s',
    '--pause',
    '100ms',
  ]);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /^capacity: none: not even 50\/s held the SLO$/m);
});

test('bad flags exit 2, naming the flag', async () => {
  const inverted = await capacityRun(['--min', '500', '--max', '100']);
  assert.equal(inverted.code, 2);
  assert.match(inverted.stdout, /--min 500 is above --max 100/);
  const probe = await capacityRun(['--probe', 'soon']);
  assert.equal(probe.code, 2);
  assert.match(probe.stdout, /--probe must be a duration/);
});

test('instances: peak ÷ capacity × headroom, rounded up', () => {
  assert.equal(instancesFor(10_000, 500), 30);
  assert.equal(instancesFor(1000, 100, 1.5), 15);
  assert.equal(instancesFor(1001, 100, 1.5), 16);
  assert.equal(instancesFor(100, 100, 1), 1);
});
