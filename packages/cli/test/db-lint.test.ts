// `headroom db lint` through the binary, with the squawk that npm installed: casebook's migrations as CI lints
// them, and new migrations that the runner would apply in a transaction or outside one.

import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { lintMigrations } from '../src/db/lint.ts';
import { headroomDb } from './support/headroom-bin.ts';

const root = join(import.meta.dirname, '../../..');
const migrations = join(root, 'apps/casebook/migrations');
const config = join(migrations, '.squawk.toml');

const lint = (args: string[]) => headroomDb('lint', args);

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'headroom-db-lint-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

/** A folder of migrations with casebook's configuration beside them. */
async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir);
  await copyFile(config, join(dir, '.squawk.toml'));
  for (const [file, sql] of Object.entries(files)) await writeFile(join(dir, file), sql);
  return dir;
}

const concurrentIndex = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS cases_title ON cases (title);\n';

test("casebook's migrations pass with the checked-in configuration (exit 0)", async () => {
  const count = (await readdir(migrations)).filter((f) => f.endsWith('.sql')).length;
  const { code, stdout, stderr } = await lint(['apps/casebook/migrations']);
  assert.equal(code, 0, stdout + stderr);
  assert.equal(stdout, `${count} files, 0 violations\n`);
});

test('a CREATE INDEX without CONCURRENTLY fails, naming the rule and the file:line (exit 1)', async () => {
  const dir = await folder('blocking', {
    '001_cases_title.sql': '-- Search by title.\nCREATE INDEX cases_title ON cases (title);\n',
  });
  const { code, stdout } = await lint([dir]);
  assert.equal(code, 1, stdout);
  assert.match(
    stdout,
    new RegExp(`^${join(dir, '001_cases_title.sql')}:2:1: warning require-concurrent-index-creation: `, 'm'),
  );
  assert.match(stdout, /^ {2}help: .*concurrently/m);
  assert.match(stdout, /^1 file, 1 violation\n$/m);
});

test('CREATE INDEX CONCURRENTLY passes in a no-transaction file, and fails in a transactional one', async () => {
  const dir = await folder('concurrently', {
    '001_outside.sql': `-- headroom: no-transaction\n${concurrentIndex}${concurrentIndex.replaceAll('title', 'status')}`,
    '002_inside.sql': `-- Forgot the marker.\n${concurrentIndex}${concurrentIndex.replaceAll('title', 'status')}`,
  });
  const { code, stdout } = await lint([dir]);
  assert.equal(code, 1, stdout);
  const rules = [...stdout.matchAll(/^(.+?):(\d+):\d+: \w+ ([a-z-]+):/gm)].map(
    (m) => `${m[1]}:${m[2]} ${m[3]}`,
  );
  assert.deepEqual(rules, [
    `${join(dir, '002_inside.sql')}:2 ban-concurrent-index-creation-in-transaction`,
    `${join(dir, '002_inside.sql')}:3 ban-concurrent-index-creation-in-transaction`,
  ]);
  assert.match(stdout, /^2 files, 2 violations$/m);

  const alone = await folder('concurrently-alone', {
    '001_outside.sql': `-- headroom: no-transaction\n${concurrentIndex}`,
  });
  assert.deepEqual(await lint([alone]), { code: 0, stdout: '1 file, 0 violations\n', stderr: '' });
});

test('a no-transaction file is linted as running outside a transaction: a step that cannot be rerun fails', async () => {
  // In a transaction a failed migration leaves nothing behind; outside one, its first statements stay done.
  const dir = await folder('not-robust', {
    '001_outside.sql':
      '-- headroom: no-transaction\nCREATE INDEX CONCURRENTLY cases_title ON cases (title);\n',
  });
  const { code, stdout } = await lint([dir]);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /001_outside\.sql:2:1: warning prefer-robust-stmts: /);
});

test('--format json prints the findings as an array; --config names the configuration', async () => {
  const dir = join(tmp, 'json');
  await mkdir(dir);
  await writeFile(join(dir, '001_drop.sql'), 'ALTER TABLE cases DROP COLUMN description;\n');
  const { code, stdout } = await lint([dir, '--config', config, '--format', 'json']);
  assert.equal(code, 1, stdout);
  const findings = JSON.parse(stdout) as Record<string, unknown>[];
  assert.deepEqual(
    findings.map(({ file, line, column, rule, level }) => ({ file, line, column, rule, level })),
    [{ file: join(dir, '001_drop.sql'), line: 1, column: 19, rule: 'ban-drop-column', level: 'warning' }],
  );
  assert.equal(typeof findings[0]?.message, 'string');
});

test('lintMigrations answers the files, the configuration found above them, and the findings', async () => {
  const dir = await folder('programmatic', { '001_index.sql': concurrentIndex.replace(' CONCURRENTLY', '') });
  const nested = join(dir, 'nested');
  await mkdir(nested);
  await writeFile(join(nested, '001_table.sql'), 'CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n');
  assert.deepEqual(await lintMigrations(nested), {
    files: [join(nested, '001_table.sql')],
    config: join(dir, '.squawk.toml'),
    findings: [],
  });
  const { findings } = await lintMigrations(dir);
  assert.deepEqual(
    findings.map((f) => f.rule),
    ['require-concurrent-index-creation'],
  );
});

test('bad usage exits 2 and names what is wrong', async () => {
  const missing = join(tmp, 'no-such-dir');
  const cases: [string[], RegExp][] = [
    [[missing], new RegExp(`${missing} is not a directory`)],
    [[await folder('empty', {})], /has no \.sql files/],
    [['apps/casebook/migrations', '--config', join(tmp, 'none.toml')], /--config .*none\.toml: no such file/],
    [['apps/casebook/migrations', '--format', 'xml'], /--format must be text or json/],
    [['apps/casebook/migrations', '--bogus'], /--bogus/],
    [[], /name the folder of migrations/],
  ];
  const results = await Promise.all(cases.map(([args]) => lint(args)));
  for (const [i, { code, stderr }] of results.entries()) {
    assert.equal(code, 2, cases[i]![0].join(' '));
    assert.match(stderr, cases[i]![1]);
  }
  const bad = join(tmp, 'bad.toml');
  await writeFile(bad, 'excluded_rules = ["no-such-rule"]\n');
  const { code, stderr } = await lint(['apps/casebook/migrations', '--config', bad]);
  assert.equal(code, 2);
  assert.match(stderr, /bad\.toml: Configuration error: invalid rule name no-such-rule/);
});

test('--help lists the options and examples', async () => {
  const { code, stdout } = await lint(['--help']);
  assert.equal(code, 0);
  for (const text of ['headroom db lint <dir>', '--config FILE', '--format text|json', 'Examples:']) {
    assert.ok(stdout.includes(text), text);
  }
});
