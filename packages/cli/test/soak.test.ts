// The soak verdict through the `headroom` binary against a real local server that reports its own memory on
// /metrics: steady memory and latency pass; memory that grows, or a p95 that creeps up, exits 1 naming the
// criterion; a target without the metric is insufficient data, never a pass; the artifact carries the verdict
// into `headroom report` (JUnit suite, Markdown table, exit code) and the HTML page draws the memory and the
// windows in headless Chromium; a soak block that cannot be judged is refused before the run (exit 2).
//
// The scenarios are seconds long, so the slopes are steep by design: 1 MB a second is 3,600 MB/h against a
// limit of 100 MB/h, and a delay that grows by 20 ms a second is far past any noise.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { Browser } from 'playwright-core';
import type { RunArtifact } from '../src/artifact.ts';
import { sampleValue } from '../src/engine/target-memory.ts';
import { slope } from '../src/gate/soak.ts';
import { chartFacts, launch, openReport } from './support/chromium.ts';
import { headroom } from './support/headroom-bin.ts';

const MB = 2 ** 20;

/** What the server does as its soak goes on. */
const target = { leak: false, creep: false, metrics: true, since: performance.now() };
const app = Fastify();
const elapsedS = () => (performance.now() - target.since) / 1000;
app.get('/work', async () => {
  // 20 ms a request, so that a busy machine's scheduling noise is small beside it; creeping adds 20 ms a second.
  await sleep(20 + (target.creep ? 20 * elapsedS() : 0));
  return { ok: true };
});
app.get('/metrics', async (request, reply) => {
  if (!target.metrics) return reply.code(404).send();
  if (request.headers.authorization !== 'Bearer soak-token') return reply.code(401).send();
  const bytes = Math.round(100 * MB + (target.leak ? MB * elapsedS() : 0));
  return reply
    .type('text/plain; version=0.0.4')
    .send(
      `# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${bytes}\n`,
    );
});

let url = '';
let dir = '';
let browser: Browser | undefined;
before(async () => {
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-soak-'));
});
after(async () => {
  await browser?.close();
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const scenario = (soak: string) => `name: soak
stages:
  - { name: warm-up, duration: 1s, rate: 50/s, judge: false }
  - { name: soak, duration: 6s, rate: 150/s }
flows: [{ name: work, steps: [{ method: GET, path: /work }] }]
${soak}
`;
const criteria = 'soak: { window: 2s, scrapeEvery: 1s, rssSlope: 100 MB/h, p95Drift: 50% }';

async function headroomRun(args: string[]) {
  const { code, stdout, stderr } = await headroom(args);
  return { code, stdout: stdout + stderr };
}

async function soak(name: string, behaviour: Partial<typeof target>, soakBlock = criteria) {
  Object.assign(target, { leak: false, creep: false, metrics: true, ...behaviour, since: performance.now() });
  const file = join(dir, `${name}.yaml`);
  const out = join(dir, `${name}.json`);
  await writeFile(file, scenario(soakBlock));
  const result = await headroomRun([
    'load',
    file,
    '--target',
    url,
    '--metrics-token',
    'soak-token',
    '--out',
    out,
  ]);
  return { ...result, out };
}

test('sampleValue reads a gauge whatever its labels, and not a metric that only shares its prefix', () => {
  const text = [
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    'process_resident_memory_bytes_total 1',
    'process_resident_memory_bytes{instance="a"} 5.24288e7',
  ].join('\n');
  assert.equal(sampleValue(text, 'process_resident_memory_bytes'), 52_428_800);
  assert.equal(sampleValue('up 1\n', 'process_resident_memory_bytes'), undefined);
  assert.equal(
    slope([
      [0, 1],
      [1, 3],
      [2, 5],
    ]),
    2,
  );
  assert.equal(
    slope([
      [1, 1],
      [1, 3],
    ]),
    0,
  );
});

test('steady memory and latency: the soak passes, with every criterion judged', async () => {
  const { code, stdout, out } = await soak('steady', {});
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^soak: pass$/m);
  assert.match(
    stdout,
    /\| rss slope \| pass \| \+0\.00 MB\/h over \d+ readings from 100\.0 MB \(≤ 100\.00 MB\/h/,
  );
  assert.match(
    stdout,
    /\| p95 drift \| pass \| [-+][\d.]+ ms from the first window to the last \(.*, 3 windows;/,
  );
  assert.match(stdout, /\| p95 spread \| pass \|/);
  const artifact = JSON.parse(await readFile(out, 'utf8')) as RunArtifact;
  assert.equal(artifact.drills?.[0]?.verdict, 'pass');
  assert.ok((artifact.result.memory?.samples.length ?? 0) >= 5, 'a reading a second through the stages');
  assert.equal(artifact.result.windows?.length, 3, 'the 6 s stage in windows of 2 s');
});

test('memory that keeps growing fails the soak on its slope (exit 1), and the report says so', async (t) => {
  const { code, stdout, out } = await soak('leak', { leak: true });
  assert.equal(code, 1, stdout);
  assert.match(stdout, /^soak: FAIL$/m);
  const slopeMB = Number(/\| rss slope \| FAIL \| \+([\d.]+) MB\/h/.exec(stdout)?.[1]);
  assert.ok(slopeMB > 3000 && slopeMB < 4200, `1 MB a second is 3,600 MB/h: ${slopeMB}`);
  assert.match(stdout, /\| p95 drift \| pass \|/, 'latency was steady: only memory fails');

  await t.test('headroom report: the drill as a JUnit suite, a Markdown table, and exit 1', async () => {
    const junit = join(dir, 'leak.xml');
    const markdown = join(dir, 'leak.md');
    const report = await headroomRun(['report', out, '--junit', junit, '--markdown', markdown]);
    assert.equal(report.code, 1, 'a saved failed drill stays a failure');
    const xml = await readFile(junit, 'utf8');
    assert.match(xml, /<testsuite name="soak drill" tests="3" failures="1" errors="0" skipped="0"/);
    assert.match(
      xml,
      /<testcase classname="soak drill" name="rss slope" time="0">\s*<failure message="rss slope: \+/,
    );
    assert.match(xml, /<testcase classname="soak drill" name="p95 drift" time="0">\s*<system-out>/);
    const md = await readFile(markdown, 'utf8');
    assert.match(md, /^### headroom: soak \(open model\) — fail$/m);
    assert.match(md, /^soak: FAIL$/m);
  });

  await t.test('the HTML page draws the memory and the windows, with the drill table', async (t) => {
    browser = await launch();
    const { htmlReport } = await import('../src/report/html.ts');
    const artifact = JSON.parse(await readFile(out, 'utf8')) as RunArtifact;
    const { page, errors } = await openReport(browser, htmlReport(artifact), dir, 'soak');
    assert.deepEqual(errors, []);
    assert.equal(await page.textContent('#headline'), 'fail');
    assert.match((await page.textContent('#why')) ?? '', /soak drill: fail/);
    const rows = await page.$$eval('#drills tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)),
    );
    assert.deepEqual(rows, [
      ['soak', 'rss slope', 'fail'],
      ['soak', 'p95 drift', 'pass'],
      ['soak', 'p95 spread', 'pass'],
    ]);
    const charts = await chartFacts(page);
    const memory = charts.find((c) => c.id === 'memory');
    const windows = charts.find((c) => c.id === 'windows');
    assert.ok(memory && windows, `charts: ${charts.map((c) => c.id)}`);
    assert.deepEqual(memory.series, ['RSS']);
    assert.ok(memory.yTicks.length >= 3 && memory.xTicks.length >= 3, `${memory.yTicks} / ${memory.xTicks}`);
    assert.deepEqual(windows.series, ['window p95']);
    // Kept after the run, as the other report tests keep theirs: a person looks at it.
    const shot = join(await mkdtemp(join(tmpdir(), 'headroom-soak-report-')), 'soak.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  });
});

test('a p95 that creeps up fails the soak on its drift (exit 1), memory steady', async () => {
  const { code, stdout } = await soak('creep', { creep: true });
  assert.equal(code, 1, stdout);
  assert.match(stdout, /\| rss slope \| pass \|/);
  const drift = Number(
    /\| p95 drift \| FAIL \| \+([\d.]+) ms from the first window to the last/.exec(stdout)?.[1],
  );
  assert.ok(drift > 40, `20 ms a second over 4 s between the first window and the last: ${drift}`);
});

test('a target whose memory cannot be read: insufficient data, not a pass', async () => {
  const { code, stdout } = await soak('no-metrics', { metrics: false });
  assert.equal(code, 0, 'insufficient data exits 0, as the gate does');
  assert.match(stdout, /^soak: insufficient data$/m);
  assert.match(
    stdout,
    /\| rss slope \| insufficient data \| 0 readings of process_resident_memory_bytes in "soak", 3 needed \(\d+ failed: .*answered 404\)/,
  );
});

test('a soak block that cannot be judged is refused before the run, naming the file and line', async () => {
  const file = join(dir, 'too-short.yaml');
  await writeFile(file, scenario('soak: { window: 3s }'));
  const tooShort = await headroomRun(['load', file, '--target', url]);
  assert.equal(tooShort.code, 2, tooShort.stdout);
  assert.match(
    tooShort.stdout,
    /too-short\.yaml:6: soak stage "soak" \(6 s\) holds fewer than 3 windows of 3 s/,
  );

  await writeFile(file, scenario('soak: { stage: nope }'));
  const noStage = await headroomRun(['load', file, '--target', url]);
  assert.equal(noStage.code, 2);
  assert.match(noStage.stdout, /soak\.stage "nope" is not a stage \(warm-up, soak\)/);

  await writeFile(file, scenario(criteria));
  const threads = await headroomRun(['load', file, '--target', url, '--workers', '2']);
  assert.equal(threads.code, 2);
  assert.match(threads.stdout, /a soak verdict needs the run on one thread/);
});
