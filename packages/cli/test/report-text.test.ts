// The text reports of constructed runs: JUnit names that stay put across runs, Markdown observed / limit
// with the change against a baseline, and percentiles that never pass the max.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routesOf } from '../src/compare/compare.ts';
import { stageTable } from '../src/gate/stage-table.ts';
import { verdictTable } from '../src/gate/table.ts';
import { maxMs } from '../src/report/bounded.ts';
import { reportData } from '../src/report/html.ts';
import { junitReport, junitRunReport } from '../src/report/junit.ts';
import { markdownReport } from '../src/report/markdown.ts';
import { reportArtifact } from './support/report-artifact.ts';

const latencyRows = /\| `([^`]+)` \| \d+ \| (p[\d.]+) ≤ [^|]+\| ([\d.]+) ms \//g;

const names = (xml: string) =>
  [...xml.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"/g)].map((m) => `${m[1]} › ${m[2]}`);

test('JUnit test names are the budgets, the same in two runs with different figures', () => {
  const one = reportArtifact({ failing: true }).artifact;
  const two = reportArtifact({ failing: true, seed: 99, scale: 1.3 }).artifact;
  assert.notEqual(one.gate!.routes[0]!.checks[1]!.observed, two.gate!.routes[0]!.checks[1]!.observed);
  const a = junitRunReport({ ...one, gate: one.gate! });
  const b = junitRunReport({ ...two, gate: two.gate! });
  assert.deepEqual(names(a), names(b));
  assert.deepEqual(names(a), [
    'GET /fast › p50 ≤ 10 ms',
    'GET /fast › p95 ≤ 40 ms',
    'GET /fast › p99 ≤ 60 ms',
    'GET /fast › errors ≤ 1%',
    'GET /fast › availability ≥ 99%',
    'GET /rare › p50 ≤ 20 ms',
    'GET /rare › p95 ≤ 40 ms',
    'GET /rare › p99 ≤ 60 ms',
    'GET /slow › p95 ≤ 5 ms',
  ]);
  assert.notEqual(a, b, 'the measured values differ, in properties and system-out');
  // Time: the judged stage's 20 s on the suites, 0 on each measured (not executed) check.
  assert.match(
    a,
    /<testsuites name="report-fixture" tests="9" failures="1" errors="0" skipped="2" time="20\.000" timestamp="2026-12-04T12:00:00\.000Z">/,
  );
  assert.equal([...a.matchAll(/<testcase [^>]* time="0">/g)].length, 9);
});

test('JUnit: a breach is a failure, insufficient data is skipped with its reason, measured values are properties', () => {
  const { artifact } = reportArtifact({ failing: true });
  const xml = junitRunReport({ ...artifact, gate: artifact.gate! });
  const slow = xml.slice(xml.indexOf('<testsuite name="GET /slow"'));
  assert.match(slow, /<failure message="p95 [\d.]+ ms breaches p95 ≤ 5 ms" type="budget"\/>/);
  assert.match(slow, /<property name="observed" value="[\d.]+"\/>/);
  assert.match(slow, /<property name="limit" value="5"\/>/);
  assert.match(slow, /<property name="unit" value="ms"\/>/);
  assert.match(slow, /<system-out>p95 [\d.]+ ms \(limit 5 ms, 400 samples\): fail<\/system-out>/);
  const rare = xml.slice(
    xml.indexOf('<testsuite name="GET /rare"'),
    xml.indexOf('<testsuite name="GET /slow"'),
  );
  assert.match(rare, /<skipped message="insufficient data: 30 admitted samples, 200 needed"\/>/);
  // A gate from an import (`headroom check`) has no run: no duration, still a time attribute.
  assert.match(junitReport(artifact.gate!, 'k6.json'), /<testsuites name="k6.json" [^>]*time="0.000">/);
});

test('Markdown: observed / limit per check and the change against a baseline', () => {
  const base = reportArtifact({ failing: true }).artifact;
  const pr = reportArtifact({ failing: true, scale: 1.1 }).artifact;
  const md = markdownReport(pr, { baseline: base });
  assert.match(md, /— fail\n/);
  assert.match(md, /baseline: commit `0123456789ab`, same scenario/);
  assert.match(md, /\| route \| samples \| check \| observed \/ limit \| vs base \| verdict \|/);
  // Latency 10% slower: a relative change; shares of requests in percentage points.
  const p95 = md.match(
    /\| `GET \/fast` \| 3000 \| p95 ≤ 40 ms \| ([\d.]+) ms \/ 40 ms \| \+([\d.]+)% \(([\d.]+) ms\) \| pass \|/,
  );
  assert.ok(p95, md);
  assert.ok(Math.abs(Number(p95[2]) - 10) < 1, `p95 about 10% slower: ${p95[0]}`);
  assert.match(
    md,
    /\| `GET \/fast` \| 3000 \| errors ≤ 1% \| 0\.167% \/ 1% \| ±0\.000 pp \(0\.167%\) \| pass \|/,
  );
  assert.match(
    md,
    /\| `GET \/rare` \| 30 \| p95 ≤ 40 ms \| [\d.]+ ms \/ 40 ms \| \+[\d.]+% \([\d.]+ ms\) \| \*\*insufficient\*\* \(30 admitted samples, 200 needed\) \|/,
  );
  const withoutSlow = markdownReport(pr, { baseline: reportArtifact().artifact });
  assert.match(
    withoutSlow,
    /\| `GET \/slow` \| 400 \| p95 ≤ 5 ms \| [\d.]+ ms \/ 5 ms \| not in base \| \*\*fail\*\* \|/,
  );
  assert.doesNotMatch(markdownReport(pr), /vs base/, 'no baseline, no column');
});

test('the headline says insufficient data when a route could not be judged, though the gate passes', () => {
  const { artifact } = reportArtifact();
  assert.equal(artifact.gate!.verdict, 'pass');
  assert.match(markdownReport(artifact), /— insufficient data\n/);
  assert.match(verdictTable(artifact.gate!), /verdict: \*\*insufficient data\*\*$/);
  assert.equal(reportData(artifact).headline, 'insufficient data');
  assert.equal(reportData(reportArtifact({ failing: true }).artifact).headline, 'fail');
});

test('percentiles in the reports never exceed the max', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { artifact } = reportArtifact({ failing: true, seed });
    const maxima = new Map([...routesOf(artifact)].map(([route, stats]) => [route, maxMs(stats)]));
    for (const route of reportData(artifact).routes) {
      const s = route.summary!;
      assert.ok(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max, `${route.route} ${JSON.stringify(s)}`);
      for (const stage of route.stages)
        for (const v of Object.values(stage.values))
          assert.ok(v === null || v <= stage.max!, `${route.route} ${stage.stage}`);
    }
    for (const [, route, metric, observed] of markdownReport(artifact).matchAll(latencyRows))
      assert.ok(Number(observed) <= Number(maxima.get(route!)!.toFixed(2)), `${route} ${metric} ${observed}`);
  }
});

// What `headroom load` prints: the stage table's max comes from the live histograms, whose max is the
// largest sample itself (a saved artifact's is its bucket's top), and the gate's percentiles are bucket tops.
test('after a run, the verdict table prints no percentile above the max of the stage table', () => {
  let capped = 0;
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { result, artifact } = reportArtifact({ failing: true, seed });
    const stageMax = new Map(
      stageTable(result)
        .split('\n')
        .slice(2)
        .filter((row) => row.startsWith('| steady'))
        .map((row) => row.split('|').map((c) => c.trim()))
        .map((cells) => [cells[2]!.replaceAll('`', ''), Number(cells[8])]),
    );
    for (const [, route, metric, observed] of verdictTable(artifact.gate!).matchAll(latencyRows))
      assert.ok(
        Number(observed) <= stageMax.get(route!)!,
        `${route} ${metric} ${observed} > ${stageMax.get(route!)}`,
      );
    // The histograms' own bucket tops: what the gate would have printed without the cap.
    for (const cell of result.cells)
      if (cell.corrected.getValueAtPercentile(99) / 1000 > stageMax.get(cell.route)!) capped++;
  }
  assert.ok(capped > 0, 'without the cap, some seed prints a p99 above the max');
});
