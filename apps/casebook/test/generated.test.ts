// casebook's generated operations files (apps/casebook/generated, `npm run gen` from headroom.yaml): reproducible,
// accepted by promtool (check rules; test rules: silent while the objective is met, each alert silent at 0.9× its
// threshold and firing at 1.1×), and reading only metrics casebook exports, with every budget a bucket edge of its latency histogram.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSpec } from '@headroom/core/slo';
import { generate } from '../../../packages/cli/src/gen/gen.ts';
import { leOf } from '../../../packages/cli/src/gen/rules.ts';
import { startTestApp } from './support/app.ts';

const dir = join(import.meta.dirname, '..', 'generated');
const specFile = join(import.meta.dirname, '..', 'headroom.yaml');

async function committed(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const sub of ['rules', 'tests', 'runbooks']) {
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
    const rules = Object.entries(await committed()).filter(([p]) => p.startsWith('rules/'));
    const read = new Set<string>();
    for (const [, text] of rules) {
      for (const m of text.matchAll(/expr: (.*)$/gm)) {
        for (const name of m[1]!.match(/\b(?:http|headroom)_[a-z_]+\b/g) ?? []) {
          read.add(name.replace(/_(bucket|count|sum)$/, ''));
        }
      }
    }
    assert.ok(read.size >= 8, [...read].join(' '));
    for (const name of read) assert.ok(families.has(name), `${name} is exported by casebook`);
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
