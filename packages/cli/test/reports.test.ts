// Reports of a real run: the HTML file opened in headless Chromium draws its charts; JUnit (read by the
// browser's XML parser) and Markdown carry the verdicts.

import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseSpec } from '@headroom/core/slo';
import Fastify from 'fastify';
import { type RunArtifact, toArtifact } from '../src/artifact.ts';
import { runScenario } from '../src/engine/run.ts';
import { judge } from '../src/gate/judge.ts';
import { htmlReport } from '../src/report/html.ts';
import { junitRunReport } from '../src/report/junit.ts';
import { markdownReport } from '../src/report/markdown.ts';
import { loadScenario } from '../src/scenario/load-scenario.ts';
import { chartFacts, launch, openReport } from './support/chromium.ts';

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

test('the HTML report of a real run draws uPlot charts with ticks and budget lines, offline', async (t) => {
  const browser = await launch();
  try {
    const { page, url, requests, errors } = await openReport(browser, htmlReport(artifact), dir, 'report');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [url], 'one self-contained file');
    // GET /slow sleeps 5 ms against a 1 ms p50 budget.
    assert.equal(await page.textContent('#headline'), 'fail');
    const charts = await chartFacts(page);
    assert.deepEqual(
      charts.map((c) => c.id),
      ['latency', 'route-0', 'route-1', 'throughput'],
    );
    for (const chart of charts) {
      assert.ok(chart.xTicks.length >= 2 && chart.xTicks.every((tick) => tick.endsWith(' s')), chart.id);
      assert.ok(chart.yTicks.length >= 2, `${chart.id}: ${chart.yTicks}`);
    }
    const budgets = charts.flatMap((c) => c.budgets);
    assert.deepEqual(
      budgets.map((b) => [b.label, b.value]),
      [
        ['p50 budget', 100],
        ['p50 budget', 1],
      ],
    );
    for (const budget of budgets)
      assert.ok(budget.drawnColumns > budget.plotWidth * 0.3, `${budget.label} ${budget.value} ms drawn`);
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);

    // The JUnit XML, read by a real XML parser (the browser's).
    const xml = junitRunReport({ ...artifact, gate: artifact.gate! });
    const parsed = (await page.evaluate(`((xml) => {
      const doc = new DOMParser().parseFromString(xml, 'application/xml');
      if (doc.querySelector('parsererror')) return { error: doc.querySelector('parsererror').textContent };
      const attrs = (el) => Object.fromEntries([...el.attributes].map((a) => [a.name, a.value]));
      return {
        root: attrs(doc.documentElement),
        suites: [...doc.querySelectorAll('testsuite')].map(attrs),
        cases: [...doc.querySelectorAll('testcase')].map((c) => ({
          ...attrs(c),
          properties: Object.fromEntries([...c.querySelectorAll('property')].map((p) => [p.getAttribute('name'), p.getAttribute('value')])),
          failure: c.querySelector('failure')?.getAttribute('message') ?? null,
          out: c.querySelector('system-out')?.textContent ?? null,
        })),
      };
    })(${JSON.stringify(xml)})`)) as {
      error?: string;
      root: Record<string, string>;
      suites: Record<string, string>[];
      cases: (Record<string, string> & {
        properties: Record<string, string>;
        failure: string | null;
        out: string;
      })[];
    };
    assert.equal(parsed.error, undefined);
    assert.equal(parsed.root.failures, '1');
    assert.equal(parsed.root.time, '2.500', 'the judged stage lasted 2.5 s');
    assert.deepEqual(
      parsed.cases.map((c) => [c.classname, c.name, c.time]),
      [
        ['GET /fast', 'p50 ≤ 100 ms', '0'],
        ['GET /fast', 'errors ≤ 1%', '0'],
        ['GET /slow', 'p50 ≤ 1 ms', '0'],
      ],
    );
    const slow = parsed.cases[2]!;
    assert.equal(slow.properties.limit, '1');
    assert.ok(Number(slow.properties.observed) >= 5, `measured: ${slow.properties.observed}`);
    assert.equal(slow.properties.unit, 'ms');
    assert.match(slow.failure ?? '', /^p50 [\d.]+ ms breaches p50 ≤ 1 ms$/);
    assert.match(slow.out, /^p50 [\d.]+ ms \(limit 1 ms, \d+ samples\): fail$/);
  } finally {
    await browser.close();
  }
});

test('Markdown carries the verdict, and each check as observed / limit', () => {
  const md = markdownReport(artifact);
  assert.match(md, /— fail/);
  assert.match(md, /\| `GET \/slow` \| \d+ \| p50 ≤ 1 ms \| [\d.]+ ms \/ 1 ms \| \*\*fail\*\* \|/);
});
