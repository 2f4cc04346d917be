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
import { generate } from '../../../packages/cli/src/gen/gen.ts';
import { leOf, rumLe } from '../../../packages/cli/src/gen/rules.ts';
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

test('the rules read only metrics casebook exports, and every budget is a bucket edge', async () => {
  const t = await startTestApp();
  try {
    const spec = await loadSpec(specFile);
    // An answer on every objective's route would be many requests; one request makes the histogram's buckets.
    const token = await t.login('analyst@acme.test');
    await t.as(token, { url: '/v1/cases/search' });
    const metrics = (await t.operator({ url: '/metrics' })).body;
    const families = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const files = await committed();
    const rules = Object.entries(files).filter(([p]) => p.startsWith('rules/'));
    const exprs = rules.flatMap(([, text]) => [...text.matchAll(/expr: (.*)$/gm)].map((m) => m[1]!));
    const board = JSON.parse(files['dashboards/casebook.json']!) as Dashboard;
    const boardExprs = [
      ...board.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...board.annotations.list.map((a) => a.expr),
    ];
    const read = new Set<string>();
    for (const expr of [...exprs, ...boardExprs]) {
      for (const name of expr.match(/\b(?:http|headroom)_[a-z_]+\b/g) ?? []) {
        read.add(name.replace(/_(bucket|count|sum)$/, ''));
      }
    }
    assert.ok(read.size >= 12, [...read].join(' '));
    for (const name of read) assert.ok(families.has(name), `${name} is exported by casebook`);
    // Every recording rule the dashboard reads is one gen wrote.
    const recorded = new Set(
      rules.flatMap(([, text]) => [...text.matchAll(/record: (\S+)/g)].map((m) => m[1]!)),
    );
    for (const expr of boardExprs) {
      for (const name of expr.match(/\bheadroom:[a-z0-9_:]+/g) ?? []) {
        assert.ok(recorded.has(name), `${name} (dashboard) is a recording rule of rules/`);
      }
    }
    // Phase and real-user budgets are bucket edges too.
    for (const objective of spec.objectives) {
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
    const edges = new Set(
      [...metrics.matchAll(/^http_request_duration_seconds_bucket\{[^}]*le="([^"]+)"/gm)].map((m) => m[1]),
    );
    for (const objective of spec.objectives) {
      for (const ms of Object.values(objective.latency)) assert.ok(edges.has(leOf(ms)), `le="${leOf(ms)}"`);
    }
  } finally {
    await t.close();
  }
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
  const rows = board.panels.filter((p) => p.type === 'row');
  for (const objective of spec.objectives) {
    const at = board.panels.findIndex(
      (p) => p.type === 'row' && p.title === `${objective.name}: ${objective.method} ${objective.route}`,
    );
    assert.ok(at >= 0, `a row for ${objective.name}`);
    const next = board.panels.findIndex((p, i) => i > at && p.type === 'row');
    const own = board.panels.slice(at + 1, next < 0 ? undefined : next);
    const titles = own.map((p) => p.title);
    for (const wanted of [/^SLI/, /^Error budget left/, /^Burn rate/, /^Requests by status/, /^Latency/]) {
      assert.ok(
        titles.some((t) => wanted.test(t)),
        `${objective.name}: a panel ${wanted} in ${titles.join(' | ')}`,
      );
    }
    if (objective.phases)
      assert.ok(
        titles.some((t) => t.startsWith('Phases p95')),
        `${objective.name}: phases`,
      );
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
  assert.ok(
    rows.some((r) => r.title.startsWith('Real users')),
    'a RUM row',
  );
  for (const budget of spec.rum)
    assert.ok(
      board.panels.some((p) => p.title === budget.journey),
      budget.journey,
    );
  const deploys = board.annotations.list.find((a) => a.name === 'Deploys');
  assert.ok(deploys?.useValueForTime);
  assert.match(deploys!.expr, /headroom_start_time_seconds\{service="casebook"\}/);
  // Unique ids, on the 24-column grid, every query with a data source.
  assert.equal(new Set(board.panels.map((p) => p.id)).size, board.panels.length);
  for (const p of board.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: inside the grid`);
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
