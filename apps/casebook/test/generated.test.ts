// casebook's generated operations files (apps/casebook/generated, `npm run gen` from headroom.yaml): reproducible,
// accepted by promtool (check rules; test rules: silent while the objective is met, each alert silent at 0.9× its
// threshold and firing at 1.1×), and reading only metrics casebook exports, with every budget a bucket edge of its latency histogram.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSpec } from '@headroom/core/slo';
import { parse } from 'yaml';
import { minus } from '../../../packages/cli/src/gen/decimal.ts';
import { generate } from '../../../packages/cli/src/gen/gen.ts';
import { leOf, rumLe, rumSeries } from '../../../packages/cli/src/gen/rules.ts';
import { startTestApp } from './support/app.ts';

const dir = join(import.meta.dirname, '..', 'generated');
const specFile = join(import.meta.dirname, '..', 'headroom.yaml');

async function committed(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const sub of ['rules', 'tests', 'runbooks', 'dashboards']) {
    for (const name of await readdir(join(dir, sub))) {
      files[`${sub}/${name}`] = await readFile(join(dir, sub, name), 'utf8');
    }
  }
  return files;
}

test('the committed files are what `npm run gen` makes of headroom.yaml today', async () => {
  const expected = generate(await loadSpec(specFile));
  const actual = await committed();
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), 'run npm run gen and commit');
  for (const [path, text] of Object.entries(expected))
    assert.equal(actual[path], text, `${path}: run npm run gen`);
});

test('promtool checks every rule file and passes every rule test', async () => {
  const files = await committed();
  const rules = Object.keys(files).filter((p) => p.startsWith('rules/'));
  const tests = Object.keys(files).filter((p) => p.startsWith('tests/'));
  const check = spawnSync('promtool', ['check', 'rules', ...rules], { cwd: dir, encoding: 'utf8' });
  assert.equal(
    check.error,
    undefined,
    'promtool (Debian package prometheus) is installed; .ci/run installs it',
  );
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  assert.doesNotMatch(`${check.stdout}${check.stderr}`, /WARNING|lint/i);
  const unit = spawnSync('promtool', ['test', 'rules', ...tests], { cwd: dir, encoding: 'utf8' });
  assert.equal(unit.status, 0, `${unit.stdout}${unit.stderr}`);
  assert.equal((unit.stdout.match(/SUCCESS/g) ?? []).length, tests.length);
  // The tests prove something: each objective's breach tests expect alerts.
  for (const path of tests) assert.match(files[path]!, /exp_labels:/, `${path} expects an alert somewhere`);
});

/** The rules of every rule file, parsed. */
function rulesOf(files: Record<string, string>): Rule[] {
  return Object.entries(files)
    .filter(([p]) => p.startsWith('rules/'))
    .flatMap(([, text]) => (parse(text) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, ranges, label lists
 * (`by (…)`, `on (…)`, …), functions, keywords and numbers are taken out.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset']);
  return [...bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => !keywords.has(name));
}

test('metricNames finds the series of an expression and nothing else', () => {
  assert.deepEqual(
    metricNames(
      '1 - sum by (le) (rate(a_bucket{x="}",le="0.5"}[5m])) / on (job) b:c:d or vector(0) > bool 0.05 and d',
    ),
    ['a_bucket', 'b:c:d', 'd'],
  );
});

test('the rules and the dashboard read only recording rules gen wrote and metrics casebook exports', async () => {
  const t = await startTestApp();
  try {
    const spec = await loadSpec(specFile);
    // An answer on every objective's route would be many requests; one request makes the histogram's buckets.
    const token = await t.login('analyst@acme.test');
    await t.as(token, { url: '/v1/cases/search' });
    const metrics = (await t.operator({ url: '/metrics' })).body;
    const families = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const files = await committed();
    const rules = rulesOf(files);
    const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
    const board = JSON.parse(files['dashboards/casebook.json']!) as Dashboard;
    const queries = [
      ...rules.map((r) => ({ where: r.record ?? r.alert!, expr: r.expr })),
      ...board.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ where: p.title, expr: q.expr }))),
      ...board.annotations.list.map((a) => ({ where: a.name, expr: a.expr })),
    ];
    const read = new Set<string>();
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${where}: ${expr} reads a metric`);
      for (const name of names) {
        if (name.includes(':')) {
          assert.ok(recorded.has(name), `${where}: ${name} is a recording rule gen wrote`);
        } else {
          const family = name.replace(/_(bucket|count|sum)$/, '');
          assert.ok(families.has(family), `${where}: ${family} is exported by casebook`);
          read.add(family);
        }
      }
    }
    for (const wanted of [
      'http_requests_total',
      'http_request_duration_seconds',
      'headroom_phase_duration_seconds',
      'headroom_rum_seconds',
      'headroom_rum_cls',
      'headroom_start_time_seconds',
      'headroom_cache_requests_total',
      'headroom_breaker_state',
      'headroom_ratelimit_decisions_total',
      'headroom_jobs',
    ]) {
      assert.ok(read.has(wanted), `something reads ${wanted}`);
    }
    // Every budget is a bucket edge: latency, phases and real-user budgets.
    const edges = new Set(
      [...metrics.matchAll(/^http_request_duration_seconds_bucket\{[^}]*le="([^"]+)"/gm)].map((m) => m[1]),
    );
    for (const objective of spec.objectives) {
      for (const ms of Object.values(objective.latency)) assert.ok(edges.has(leOf(ms)), `le="${leOf(ms)}"`);
      for (const ms of Object.values(objective.phases ?? {})) {
        assert.match(metrics, new RegExp(`headroom_phase_duration_seconds_bucket\\{le="${leOf(ms)}"`));
      }
    }
    const rumEdges = new Set(
      [...metrics.matchAll(/^headroom_rum_(?:seconds|cls)_bucket\{le="([^"]+)"/gm)].map((m) => m[1]),
    );
    for (const budget of spec.rum) {
      for (const [metric, value] of Object.entries(budget.budgets)) {
        assert.ok(
          rumEdges.has(rumLe(metric as 'CLS', value)),
          `${budget.journey} ${metric}: le="${rumLe(metric as 'CLS', value)}"`,
        );
      }
    }
    assert.match(
      metrics,
      /^headroom_start_time_seconds\{service="casebook",version="[^"]+",commit="[^"]+"\} \d+/m,
    );
  } finally {
    await t.close();
  }
});

test('every phase and real-user budget has its recording rules, its ticket and a promtool test that expects it', async () => {
  const spec = await loadSpec(specFile);
  const files = await committed();
  const rules = rulesOf(files);
  const tests = Object.entries(files)
    .filter(([p]) => p.startsWith('tests/'))
    .map(([, text]) => text)
    .join('\n');
  let phases = 0;
  for (const objective of spec.objectives) {
    for (const [phase, ms] of Object.entries(objective.phases ?? {})) {
      phases++;
      const mine = (r: Rule) => r.labels?.objective === objective.name && r.labels?.phase === phase;
      for (const w of ['5m', '1h']) {
        const record = rules.find(
          (r) => r.record === `headroom:slo_phase_over_budget:ratio_rate${w}` && mine(r),
        );
        assert.ok(record, `${objective.name} ${phase}: recorded over ${w}`);
        assert.ok(
          record.expr.includes(`phase="${phase}",le="${leOf(ms)}"}[${w}]`),
          `${objective.name} ${phase}: over its budget ${ms} ms (${record.expr})`,
        );
      }
      const alert = rules.find(
        (r) =>
          r.alert === 'HeadroomPhaseOverBudget' &&
          r.labels?.phase === phase &&
          r.expr.includes(`objective="${objective.name}"`),
      );
      assert.ok(alert, `${objective.name} ${phase}: an alert`);
      assert.equal(alert.labels?.severity, 'ticket');
      assert.match(alert.expr, / > 0\.05 and .* > 0\.05$/, 'p95: over 5% of requests over budget');
      assert.ok(alert.annotations?.runbook_url?.endsWith('.md'));
    }
  }
  assert.ok(phases > 0, 'casebook budgets some phases');
  let rum = 0;
  for (const budget of spec.rum) {
    for (const [metric, value] of Object.entries(budget.budgets)) {
      rum++;
      const mine = (r: Rule) => r.labels?.journey === budget.journey && r.labels?.metric === metric;
      const record = rules.find((r) => r.record === 'headroom:rum_over_budget:ratio_rate1h' && mine(r));
      assert.ok(record, `${budget.journey} ${metric}: recorded`);
      const { metric: name, selector } = rumSeries(budget.journey, metric as 'CLS');
      assert.ok(
        record.expr.includes(`${name}_bucket{${selector},le="${rumLe(metric as 'CLS', value)}"}[1h]`),
        `${budget.journey} ${metric}: over its budget (${record.expr})`,
      );
      const alert = rules.find((r) => r.alert === 'HeadroomRumOverBudget' && mine(r));
      assert.ok(alert, `${budget.journey} ${metric}: an alert`);
      assert.equal(alert.labels?.severity, 'ticket');
      assert.ok(alert.expr.endsWith(` > ${minus('1', budget.target.decimal)}`), alert.expr);
      assert.match(tests, new RegExp(`journey: ${budget.journey}\\n\\s+metric: ${metric}\\n`));
    }
  }
  assert.ok(rum > 0, 'casebook budgets real users');
});

interface Dashboard {
  uid: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string }[] };
  annotations: { list: { name: string; expr: string; useValueForTime?: boolean }[] };
  panels: {
    id: number;
    type: string;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string; refId: string }[];
    datasource?: { uid: string };
  }[];
}

test('the dashboard: a row per objective with its SLI, budget and burn panels; deploys annotated; a valid grid', async () => {
  const spec = await loadSpec(specFile);
  const board = JSON.parse((await committed())['dashboards/casebook.json']!) as Dashboard;
  assert.ok(board.schemaVersion >= 39);
  assert.equal(board.uid, 'headroom-casebook');
  assert.deepEqual(
    board.templating.list.map((v) => `${v.name}:${v.type}`),
    ['datasource:datasource'],
  );
  for (const objective of spec.objectives) {
    const at = board.panels.findIndex(
      (p) => p.type === 'row' && p.title === `${objective.name}: ${objective.method} ${objective.route}`,
    );
    assert.ok(at >= 0, `a row for ${objective.name}`);
    const next = board.panels.findIndex((p, i) => i > at && p.type === 'row');
    const own = board.panels.slice(at + 1, next < 0 ? undefined : next);
    const titles = own.map((p) => p.title);
    for (const wanted of [
      /^SLI/,
      /^Error budget left/,
      /^Burn rate/,
      /^Requests by status/,
      /^Errors/,
      /^Latency/,
    ]) {
      assert.ok(
        titles.some((t) => wanted.test(t)),
        `${objective.name}: a panel ${wanted} in ${titles.join(' | ')}`,
      );
    }
    if (objective.phases) {
      for (const wanted of ['Phases p95', 'Phases within budget'])
        assert.ok(
          titles.some((t) => t.startsWith(wanted)),
          `${objective.name}: ${wanted}`,
        );
    }
    const exprs = own.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    assert.ok(
      exprs.some((e) => e.includes(`objective="${objective.name}"`)),
      `${objective.name}: its SLI`,
    );
    assert.ok(
      exprs.some((e) => e.includes(`route="${objective.route}"`)),
      `${objective.name}: its route`,
    );
  }
  for (const budget of spec.rum) {
    const at = board.panels.findIndex(
      (p) => p.type === 'row' && p.title.startsWith(`Real users: ${budget.journey} `),
    );
    assert.ok(at >= 0, `a row for the journey ${budget.journey}`);
    const next = board.panels.findIndex((p, i) => i > at && p.type === 'row');
    const own = board.panels.slice(at + 1, next < 0 ? undefined : next);
    const exprs = own.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const metric of Object.keys(budget.budgets)) {
      const { metric: name, selector } = rumSeries(budget.journey, metric as 'CLS');
      assert.ok(
        exprs.some((e) => e.includes(`${name}_bucket{${selector}}`)),
        `${budget.journey}: ${metric}`,
      );
    }
    assert.ok(
      own.some((p) => p.title.startsWith('Page views within budget')),
      `${budget.journey}: share within budget`,
    );
  }
  const deploys = board.annotations.list.find((a) => a.name === 'Deploys');
  assert.ok(deploys?.useValueForTime);
  assert.match(deploys!.expr, /headroom_start_time_seconds\{service="casebook"\}/);
  // Unique ids, on the 24-column grid with no two panels on one cell, every query with a data source.
  assert.equal(new Set(board.panels.map((p) => p.id)).size, board.panels.length);
  const cells = new Map<string, string>();
  for (const p of board.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: inside the grid`);
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        assert.equal(cells.get(`${x},${y}`), undefined, `${p.title} overlaps another panel at ${x},${y}`);
        cells.set(`${x},${y}`, p.title);
      }
    }
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
    if (p.type !== 'row') assert.equal(p.datasource?.uid, '${datasource}', p.title);
  }
  // Queries Prometheus accepts: each one parsed by promtool (through a recording rule that holds it).
  const exprs = board.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const dir = await mkdtemp(join(tmpdir(), 'headroom-dashboard-'));
  try {
    const file = join(dir, 'dashboard-queries.yml');
    await writeFile(
      file,
      `groups:\n  - name: dashboard\n    rules:\n${exprs.map((e, i) => `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`,
    );
    const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
