// Reports of a real run: the HTML file opened in headless Chromium draws its charts; JUnit and Markdown
// carry the verdicts.

import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parseSpec } from '@headroom/core/slo';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { type RunArtifact, toArtifact } from '../src/artifact.ts';
import { runScenario } from '../src/engine/run.ts';
import { judge } from '../src/gate/judge.ts';
import { htmlReport } from '../src/report/html.ts';
import { junitReport } from '../src/report/junit.ts';
import { markdownReport } from '../src/report/markdown.ts';
import { loadScenario } from '../src/scenario/load-scenario.ts';

const app = Fastify();
app.get('/fast', async () => ({ ok: true }));
app.get('/slow', async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { ok: true };
});
let artifact: RunArtifact;
let dir: string;

before(async () => {
  const target = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-report-'));
  const file = join(dir, 'scenario.yaml');
  await writeFile(
    file,
    `name: report\nstages: [{ name: s, duration: 2500ms, rate: 40/s }]\nflows: [{ name: f, steps: [{ method: GET, path: /fast }, { method: GET, path: /slow }] }]\n`,
  );
  const scenario = await loadScenario(file, { target });
  const spec = parseSpec(`service: t
objectives:
  - { name: fast, route: GET /fast, latency: { p50: 100ms }, errors: 1% }
  - { name: slow, route: GET /slow, latency: { p50: 1ms } }
`);
  const result = await runScenario(scenario, { routes: ['GET /fast', 'GET /slow'] });
  artifact = toArtifact(scenario, result, judge(result, spec));
});
after(() => app.close());

test('the HTML report draws its charts in headless Chromium', async () => {
  const file = join(dir, 'report.html');
  await writeFile(file, htmlReport(artifact));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-drawn="true"]', { timeout: 10_000 });
    assert.deepEqual(errors, []);
    // Runs in the page (a string: this file is type-checked without the DOM library).
    const drawn = (await page.evaluate(`({
      series: [...document.querySelectorAll('path.series')].map((p) => (p.getAttribute('d') ?? '').split('L').length),
      routes: document.querySelectorAll('#routes tbody tr').length,
      bars: document.querySelectorAll('#budgets rect.bar').length,
      budgets: document.querySelectorAll('#budgets line.budget').length,
      verdict: document.getElementById('verdict')?.textContent,
    })`)) as { series: number[]; routes: number; bars: number; budgets: number; verdict: string };
    assert.equal(drawn.series.length, 5, 'p50, p95, p99, req/s and errors');
    assert.ok(
      drawn.series.every((points) => points >= 2),
      `every series has points: ${drawn.series}`,
    );
    assert.equal(drawn.routes, 2);
    assert.equal(drawn.bars, 2);
    assert.equal(drawn.budgets, 0, 'no p95 budget in this spec, so no budget line');
    assert.equal(drawn.verdict, 'fail');
  } finally {
    await browser.close();
  }
});

test('JUnit marks the breached budget as a failure; Markdown carries the verdict', () => {
  const xml = junitReport(artifact.gate!, 'report');
  assert.match(xml, /<testsuite name="GET \/slow" tests="1" failures="1"/);
  assert.match(xml, /<testsuite name="GET \/fast" tests="2" failures="0"/);
  const md = markdownReport(artifact);
  assert.match(md, /— fail/);
  assert.match(md, /\| `GET \/slow` \|/);
});
