// The spike verdict through the `headroom` binary against a real local server with a fixed capacity: a server
// that refuses (429) beyond it and recovers at once passes; one that fails (500) beyond it, or keeps refusing
// long after the spike, exits 1 naming the criterion; a spike block naming no stage is refused (exit 2).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FixedCapacity, fixedCapacity } from './support/fixed-capacity.ts';
import { headroom } from './support/headroom-bin.ts';

type Mode = FixedCapacity['mode'];
// 50 requests a second, bursts of 10: the spike's 200/s is four times that, the normal 20/s well within.
const server = fixedCapacity({ rate: 50, burst: 10 });
const app = server.app;

let target = '';
let dir = '';
before(async () => {
  target = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-spike-'));
});
after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const scenario = (spike: string) => `name: spike
stages:
  - { name: normal, duration: 2s, rate: 20/s }
  - { name: spike, duration: 2s, rate: 200/s }
  - { name: after, duration: 3s, rate: 20/s }
flows: [{ name: work, steps: [{ method: GET, path: /work, status: [200, 429, 500] }] }]
checkFailures: 100%
${spike}
`;

async function load(yaml: string, serverMode: Mode) {
  server.mode = serverMode;
  server.reset();
  const file = join(dir, `${serverMode}-${Math.random()}.yaml`);
  await writeFile(file, yaml);
  const { code, stdout, stderr } = await headroom(['load', file, '--target', target]);
  return { code, stdout: stdout + stderr };
}

// Generous latency factors: a sub-millisecond local server's p99 moves by more than 2× on scheduling alone (and
// more on a machine running other tests), so these verdicts turn on the counts of refusals and errors.
const criteria = 'spike: { stage: spike, recovery: 2s, p99Factor: 100, recoveryFactor: 100 }';

test('refusals beyond capacity and a recovery within the bound pass', async () => {
  const { code, stdout } = await load(scenario(criteria), 'shed');
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^spike: pass$/m);
  assert.match(stdout, /\| refusals only \| pass \| \d+ × 429, 0 × 503 of \d+ in "spike" \|/);
  assert.match(stdout, /\| recovery \| pass \| back to normal [0-2] s after the spike/);
});

test('errors beyond capacity fail the run, naming them', async () => {
  const { code, stdout } = await load(scenario(criteria), 'fail');
  assert.equal(code, 1, stdout);
  assert.match(stdout, /^spike: FAIL$/m);
  assert.match(stdout, /\| refusals only \| FAIL \| 0 × 429, 0 × 503; also \d+ × 500 of \d+ in "spike" \|/);
});

test('a service that keeps refusing after the spike has not recovered', async () => {
  const { code, stdout } = await load(scenario(criteria), 'sticky');
  assert.equal(code, 1, stdout);
  assert.match(stdout, /\| refusals only \| pass \|/);
  assert.match(stdout, /\| recovery \| FAIL \| not back to normal before the run ended/);
});

test('a spike block naming a stage the scenario lacks is refused before any load', async () => {
  const { code, stdout } = await load(scenario('spike: { stage: peak }'), 'shed');
  assert.equal(code, 2, stdout);
  assert.match(stdout, /spike\.stage "peak" is not a stage \(normal, spike, after\)/);
});
