// The HTML report of constructed runs, in headless Chromium: uPlot charts with time axes and tick labels,
// stage bands with warm-up apart, budget lines drawn where the budgets are, a log scale that shows the
// warm-up spike the linear scale leaves out, the headline verdict, and not one request beyond the file.

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { htmlReport } from '../src/report/html.ts';
import { chartFacts, launch, openReport } from './support/chromium.ts';
import { reportArtifact } from './support/report-artifact.ts';

let browser: Browser;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'headroom-report-html-'));
  browser = await launch();
});
after(() => browser?.close());

test('a run with a breached budget: fail, axes with ticks, budget lines drawn, warm-up apart', async (t) => {
  const { page, url, requests, errors } = await openReport(
    browser,
    htmlReport(reportArtifact({ failing: true }).artifact),
    dir,
    'failing',
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [url], 'the page loads nothing but itself');
  assert.equal(await page.textContent('#headline'), 'fail');
  assert.equal(await page.textContent('#why'), 'GET /rare: insufficient; GET /slow: fail');

  const charts = await chartFacts(page);
  assert.deepEqual(
    charts.map((c) => c.id),
    ['latency', 'route-0', 'route-1', 'route-2', 'throughput'],
  );
  for (const chart of charts) {
    assert.ok(chart.xTicks.length >= 5, `${chart.id}: x ticks ${chart.xTicks}`);
    assert.ok(
      chart.xTicks.every((tick) => /^\d+(\.\d+)? s$/.test(tick)),
      `${chart.id}: seconds: ${chart.xTicks}`,
    );
    assert.ok(chart.yTicks.length >= 3, `${chart.id}: y ticks ${chart.yTicks}`);
  }
  const [run, fast, rare, slow, throughput] = charts;
  assert.deepEqual(
    fast!.budgets.map((b) => [b.label, b.value]),
    [
      ['p50 budget', 10],
      ['p95 budget', 40],
      ['p99 budget', 60],
    ],
  );
  assert.deepEqual(
    rare!.budgets.map((b) => b.label),
    ['p50 budget', 'p95 budget', 'p99 budget'],
  );
  assert.deepEqual(
    slow!.budgets.map((b) => [b.label, b.value]),
    [['p95 budget', 5]],
  );
  // Dashed lines: their colour on about 8 px of every 13 across the plot, on the row of their value.
  for (const budget of [...fast!.budgets, ...rare!.budgets, ...slow!.budgets])
    assert.ok(
      budget.drawnColumns > budget.plotWidth * 0.3,
      `${budget.label} drawn on ${budget.drawnColumns} of ${budget.plotWidth} columns`,
    );
  assert.deepEqual(run!.series, ['p50', 'p95', 'p99']);
  assert.deepEqual(throughput!.series, [
    'all answers /s',
    '5xx + no answer /s',
    '2xx/3xx /s (stage mean)',
    '4xx /s (stage mean)',
    'refused 429/503 /s (stage mean)',
    '5xx/no answer /s (stage mean)',
  ]);

  // Linear scales fit steady state (p99 about 10 ms), not the warm-up's 250 ms spike, and say what is off-scale.
  assert.equal(run!.scale, 'linear');
  assert.ok(run!.yMax < 20, `the run chart tops at ${run!.yMax} ms`);
  assert.ok(fast!.yMax < 100, `GET /fast tops at ${fast!.yMax} ms (its budgets reach 60)`);
  assert.match(
    (await page.textContent('.offscale[data-for="latency"]')) ?? '',
    /Off this scale: up to 250 ms/,
  );
  // The stage bands: warm-up grey, steady blue-tinted, where no series passes (near the plot's floor).
  const [warm, steady] = (await page.evaluate(`(() => {
    const u = window.headroomCharts.find((c) => c.id === 'latency').uplot;
    const y = Math.round(u.bbox.top + u.bbox.height * 0.97);
    const at = (t) => [...u.ctx.getImageData(Math.round(u.valToPos(t, 'x', true)), y, 1, 1).data];
    return [at(2.6), at(15.5)];
  })()`)) as number[][];
  assert.ok(Math.abs(warm![0]! - warm![2]!) < 8 && warm![0]! < 245, `warm-up band grey: ${warm}`);
  assert.ok(steady![2]! > steady![0]!, `steady band blue: ${steady}`);

  const shot = join(dir, 'failing.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.diagnostic(`screenshot: ${shot}`);

  // The log scale shows everything, warm-up included, and redraws the budget lines.
  await page.click('#log');
  await page.waitForSelector('#latency[data-scale="log"]');
  const logged = await chartFacts(page);
  assert.ok(logged.find((c) => c.id === 'latency')!.yMax > 250);
  assert.ok(logged.find((c) => c.id === 'latency')!.yTicks.includes('100'), 'decades');
  assert.equal(await page.$('.offscale'), null);
  for (const budget of logged.find((c) => c.id === 'route-2')!.budgets)
    assert.ok(budget.drawnColumns > budget.plotWidth * 0.3, `${budget.label} on the log scale`);
  await page.screenshot({ path: join(dir, 'failing-log.png'), fullPage: true });
  assert.deepEqual(requests, [url]);
  assert.deepEqual(errors, []);
});

test('a run whose budgets could not all be judged says insufficient data, though its gate passed', async () => {
  const { artifact } = reportArtifact();
  assert.equal(artifact.gate!.verdict, 'pass');
  const { page, url, requests, errors } = await openReport(
    browser,
    htmlReport(artifact),
    dir,
    'insufficient',
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [url]);
  assert.equal(await page.textContent('#headline'), 'insufficient data');
  const verdicts = await page.$$eval('#gate tbody tr', (rows) =>
    rows.map((row) => [...row.children].map((cell) => cell.textContent)),
  );
  assert.deepEqual(
    verdicts.filter((row) => row[5] !== 'pass').map((row) => [row[0], row[2], row[5], row[6]]),
    [
      ['GET /rare', 'p95 ≤ 40 ms', 'insufficient', '30 admitted samples, 200 needed'],
      ['GET /rare', 'p99 ≤ 60 ms', 'insufficient', '30 admitted samples, 1000 needed'],
    ],
  );
});

test('an old artifact (no gate, no timeline, no exact codes) still draws: not judged, per-stage charts only', async () => {
  const { artifact } = reportArtifact();
  const { gate: _gate, ...unjudged } = artifact;
  const old = {
    ...unjudged,
    result: {
      ...artifact.result,
      timeline: [],
      cells: artifact.result.cells.map(({ codes: _codes, refused: _refused, ...cell }) => cell),
    },
  };
  const { page, url, requests, errors } = await openReport(browser, htmlReport(old), dir, 'old');
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [url]);
  assert.equal(await page.textContent('#headline'), 'not judged');
  assert.equal(await page.textContent('#latency'), 'This artifact has no per-second timeline.');
  const charts = await chartFacts(page);
  assert.deepEqual(
    charts.map((c) => [c.id, c.budgets.length]),
    [
      ['route-0', 0],
      ['route-1', 0],
      ['throughput', 0],
    ],
  );
  // Without exact codes, 429 and 503 cannot be told from other 4xx and 5xx: no refused series.
  assert.deepEqual(charts.at(-1)!.series, [
    '2xx/3xx /s (stage mean)',
    '4xx /s (stage mean)',
    '5xx/no answer /s (stage mean)',
  ]);
  for (const chart of charts) assert.ok(chart.xTicks.length >= 5 && chart.yTicks.length >= 2, chart.id);
});
