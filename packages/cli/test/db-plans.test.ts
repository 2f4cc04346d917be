// `headroom db plans` through the binary on a real PostgreSQL: casebook's schema and `test` dataset (300 cases,
// hence --large-table 100), a catalogue of casebook's own statements, a snapshot written by --update and then
// broken on purpose: a cost halved in the JSON, an N+1, a query added and one gone, and last an index dropped.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sessionLookup } from '../../../apps/casebook/src/auth/authenticate.ts';
import {
  activityPageQuery,
  detailQueries,
  searchQuery,
  timelineColumns,
} from '../../../apps/casebook/src/cases/queries.ts';
import { profiles, seed } from '../../../apps/casebook/src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../apps/casebook/test/support/database.ts';
import type { CatalogueQuery, PlansSnapshot } from '../src/db/plans.ts';
import { headroomDb } from './support/headroom-bin.ts';

const plans = (args: string[]) => headroomDb('plans', args);

const all = searchQuery({ tenantId: 1, fetch: 21 });
// A status rare enough in the `test` dataset for its index to be worth it.
const byStatus = searchQuery({ tenantId: 1, status: 'triage', fetch: 21 });
const catalogue: { queries: CatalogueQuery[] } = {
  queries: [
    {
      name: all.name,
      text: all.text,
      values: all.values,
      routes: ['GET /v1/cases/search'],
      max_per_request: 1,
    },
    {
      name: byStatus.name,
      // As casebook sends it, tagged by sqlcommenter.
      text: `${byStatus.text} /*route='GET%20%2Fv1%2Fcases%2Fsearch',statement='${byStatus.name}'*/`,
      values: byStatus.values,
      routes: ['GET /v1/cases/search'],
      max_per_request: 1,
    },
    {
      name: 'case-detail-0',
      text: detailQueries[0],
      values: [1, 5],
      routes: ['GET /v1/cases/:id', 'PATCH /v1/cases/:id'],
      max_per_request: 1,
    },
    {
      name: 'events-page-_',
      text: activityPageQuery('events', timelineColumns, 'occurred_at', false),
      values: [1, 5, 21],
      routes: ['GET /v1/cases/:id/timeline'],
      max_per_request: 1,
    },
    {
      name: 'auth-session',
      text: sessionLookup,
      values: [`\\x${'ab'.repeat(32)}`, '2026-05-01T00:00:00.000Z'],
      routes: ['GET /v1/me'],
      max_per_request: 1,
    },
    {
      name: 'entity-insert',
      text: `INSERT INTO entities (tenant_id, kind, name, attributes, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, kind, name, attributes, created_at`,
      values: [1, 'account', 'planned, never inserted', '{"tier":"gold"}', '2026-05-01T00:00:00.000Z'],
      routes: ['POST /v1/entities'],
      max_per_request: 1,
    },
    // No values recorded: the generic plan.
    {
      name: 'case-detail-1',
      text: detailQueries[1],
      values: null,
      routes: ['GET /v1/cases/:id'],
      max_per_request: 1,
    },
  ],
};

let db: TestDatabase;
let tmp = '';
let queriesFile = '';
let snapshotFile = '';
let snapshot: PlansSnapshot;

before(async () => {
  db = await createTestDatabase();
  await seed(db.pool, profiles.test);
  tmp = await mkdtemp(join(tmpdir(), 'headroom-db-plans-'));
  queriesFile = join(tmp, 'queries.json');
  snapshotFile = join(tmp, 'plans.json');
  await writeFile(queriesFile, JSON.stringify(catalogue, null, 2));
});
after(async () => {
  await db?.close();
  await rm(tmp, { recursive: true, force: true });
});

const base = () => ['--database-url', db.url, '--large-table', '100'];

/** A variant of the catalogue or snapshot in a file of its own. */
async function variant(name: string, content: unknown): Promise<string> {
  const file = join(tmp, name);
  await writeFile(file, JSON.stringify(content, null, 2));
  return file;
}

test('--update writes a stable snapshot; the next run finds every plan the same (exit 0)', async () => {
  const updated = await plans([...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--update']);
  assert.equal(updated.code, 0, updated.stdout + updated.stderr);
  assert.match(updated.stdout, /7 queries: 7 new; no failing findings; snapshot written to /);
  const text = await readFile(snapshotFile, 'utf8');
  snapshot = JSON.parse(text) as PlansSnapshot;
  assert.equal(snapshot.threshold, '20%');
  const names = catalogue.queries.map((q) => q.name).sort();
  assert.deepEqual(Object.keys(snapshot.queries), names);
  for (const entry of Object.values(snapshot.queries)) {
    assert.deepEqual(Object.keys(entry), ['cost', 'rows', 'shape']);
    assert.equal(entry.cost, Math.round(entry.cost * 100) / 100);
  }
  assert.deepEqual(snapshot.queries[byStatus.name]!.shape, [
    'Limit',
    '  Index Scan using cases_tenant_status_created on cases',
  ]);
  assert.ok(text.endsWith('}\n'));

  const again = await plans([...base(), '--queries', queriesFile, '--snapshot', snapshotFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(
    again.stdout,
    /^case-detail-0 +\d+\.\d\d → \d+\.\d\d +\+0\.0% +same +GET \/v1\/cases\/:id, PATCH \/v1\/cases\/:id$/m,
  );
  assert.match(again.stdout, /7 queries: 7 same; no failing findings\n/);
  assert.match(again.stdout, /db plans run time: \d+\.\d\d s \(threshold 20%\)/);

  // Nothing changed, so nothing changes in the file: its diff in a PR is the plans' diff
  await plans([...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--update']);
  assert.equal(await readFile(snapshotFile, 'utf8'), text);
});

test('a write is planned, not run; no values means the generic plan; --json for machines', async () => {
  const count = async () =>
    (await db.pool.query('SELECT count(*)::int AS n FROM entities')).rows[0].n as number;
  const entities = await count();
  const run = await plans([...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--json']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(await count(), entities);
  const result = JSON.parse(run.stdout) as {
    queries: { name: string; plan: string; verdict: string; entry: { shape: string[] } }[];
    failed: boolean;
    ms: number;
  };
  assert.equal(result.failed, false);
  assert.ok(result.ms > 0);
  const byName = new Map(result.queries.map((q) => [q.name, q]));
  assert.equal(byName.get('case-detail-1')?.plan, 'generic');
  assert.equal(byName.get('case-detail-0')?.plan, 'values');
  assert.deepEqual(byName.get('entity-insert')?.entry.shape, ['ModifyTable on entities', '  Result']);
  assert.deepEqual(
    result.queries.map((q) => q.verdict),
    catalogue.queries.map(() => 'same'),
  );
});

test('a cost up by more than the threshold fails (exit 1); --threshold can allow it', async () => {
  const halved = structuredClone(snapshot);
  const entry = halved.queries['case-detail-0']!;
  entry.cost = Math.round(entry.cost * 50) / 100;
  const file = await variant('halved.json', halved);
  const run = await plans([...base(), '--queries', queriesFile, '--snapshot', file]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /^ {2}FAIL cost: cost \d+\.\d\d → \d+\.\d\d \(\+(99|100|101)\.\d%\), over the 20\.0% threshold$/m,
  );
  assert.match(run.stdout, /1 failing finding \(1 cost\)/);
  const allowed = await plans([
    ...base(),
    '--queries',
    queriesFile,
    '--snapshot',
    file,
    '--threshold',
    '150%',
  ]);
  assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
});

test('a statement sent 5 times in one request fails as an N+1, naming its routes', async () => {
  const nPlusOne = structuredClone(catalogue);
  nPlusOne.queries[2]!.max_per_request = 5;
  const file = await variant('n-plus-one.json', nPlusOne);
  const run = await plans([...base(), '--queries', file, '--snapshot', snapshotFile]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /FAIL n-plus-one: sent up to 5 times in one request \(--n-plus-one 3\) by GET \/v1\/cases\/:id, PATCH \/v1\/cases\/:id:/,
  );
  const tolerated = await plans([
    ...base(),
    '--queries',
    file,
    '--snapshot',
    snapshotFile,
    '--n-plus-one',
    '6',
  ]);
  assert.equal(tolerated.code, 0, tolerated.stdout + tolerated.stderr);
  // --update does not excuse it: checks 1–3 still fail
  const updating = await plans([
    ...base(),
    '--queries',
    file,
    '--snapshot',
    join(tmp, 'n-plus-one-snapshot.json'),
    '--update',
  ]);
  assert.equal(updating.code, 1, updating.stdout + updating.stderr);
});

test('a query the snapshot lacks is new and fails until --update; a query gone is only reported', async () => {
  const changed = structuredClone(catalogue);
  changed.queries.pop();
  changed.queries.push({
    name: 'case-exists',
    text: 'SELECT 1 FROM cases WHERE tenant_id = $1 AND id = $2',
    values: [1, 5],
    routes: ['GET /v1/cases/:id/suggestions'],
    max_per_request: 1,
  });
  const file = await variant('changed.json', changed);
  const run = await plans([...base(), '--queries', file, '--snapshot', snapshotFile]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^case-exists +- → \d+\.\d\d +new +GET \/v1\/cases\/:id\/suggestions$/m);
  assert.match(run.stdout, /FAIL new: not in the snapshot: run with --update to add it/);
  assert.match(
    run.stdout,
    /gone: case-detail-1 is in the snapshot but not in the catalogue \(--update drops it\)/,
  );

  const gone = await variant('gone.json', { queries: catalogue.queries.slice(0, -1) });
  const onlyGone = await plans([...base(), '--queries', gone, '--snapshot', snapshotFile]);
  assert.equal(onlyGone.code, 0, onlyGone.stdout + onlyGone.stderr);
  assert.match(onlyGone.stdout, /6 queries: 6 same, 1 gone; no failing findings/);
});

test('bad flags and inputs exit 2, naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['--queries', queriesFile, '--snapshot', snapshotFile], /--database-url URL is required/],
    [[...base(), '--snapshot', snapshotFile], /--queries FILE is required/],
    [
      [...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--threshold', 'lots'],
      /--threshold must be/,
    ],
    [
      [...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--large-rows', 'many'],
      /--large-rows must be/,
    ],
    [
      [...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--n-plus-one', '1'],
      /--n-plus-one must be/,
    ],
    [
      [...base(), '--queries', queriesFile, '--snapshot', snapshotFile, '--explain'],
      /Unknown option '--explain'/,
    ],
    [[...base(), '--queries', join(tmp, 'nope.json'), '--snapshot', snapshotFile], /--queries .*nope\.json/],
    [[...base(), '--queries', snapshotFile, '--snapshot', snapshotFile], /--queries .*no "queries" array/],
    [
      [...base(), '--queries', queriesFile, '--snapshot', join(tmp, 'none.json')],
      /no such file \(run with --update/,
    ],
    [
      [
        '--database-url',
        'postgres://postgres@127.0.0.1:1/none',
        '--queries',
        queriesFile,
        '--snapshot',
        snapshotFile,
      ],
      /--database-url: cannot connect/,
    ],
  ];
  const runs = await Promise.all(cases.map(([args]) => plans(args)));
  for (const [i, [args, message]] of cases.entries()) {
    assert.equal(runs[i]!.code, 2, `${args.join(' ')}\n${runs[i]!.stdout}${runs[i]!.stderr}`);
    assert.match(runs[i]!.stderr, message);
  }
  const help = await plans(['--help']);
  assert.equal(help.code, 0);
  for (const flag of [
    '--database-url',
    '--queries',
    '--snapshot',
    '--update',
    '--threshold',
    '--large-table',
    '--large-rows',
    '--n-plus-one',
    '--json',
  ]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
});

// Last: it changes the database.
test('an index dropped: the scan turned sequential fails (exit 1), with the index to create', async () => {
  const indexes = async () =>
    (await db.pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'events' ORDER BY 1`)).rows;
  // No autovacuum on it from here: a VACUUM that scans part of the table re-estimates reltuples (CI once read
  // 1534 of its 3000 rows just after this ANALYZE).
  await db.pool.query('ALTER TABLE events SET (autovacuum_enabled = false)');
  await db.pool.query('DROP INDEX events_case_time');
  await db.pool.query('ANALYZE events');
  const left = await indexes();
  const run = await plans([...base(), '--queries', queriesFile, '--snapshot', snapshotFile]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const lines = run.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('events-page-_ '));
  assert.match(lines[at]!, /seq-scan regression +GET \/v1\/cases\/:id\/timeline$/);
  const end = lines.findIndex((l, i) => i > at && !l.startsWith(' '));
  const block = lines.slice(at + 1, end).join('\n');
  assert.match(
    block,
    /^ {2}FAIL seq-scan: Seq Scan on events: 3000 rows in the table \(--large-table 100\)$/m,
  );
  // The columns of the Filter ((x.tenant_id = 1) AND (x.case_id = cases.id)), then the ORDER BY of the Sort above:
  // the index that was dropped.
  assert.match(
    block,
    /^ {7}suggested index \(not applied\): CREATE INDEX CONCURRENTLY ON events \(tenant_id, case_id\); The query sorts by occurred_at DESC, id DESC: to serve the ORDER BY too, CREATE INDEX CONCURRENTLY ON events \(tenant_id, case_id, occurred_at DESC, id DESC\);$/m,
  );
  assert.match(block, /^ {2}FAIL shape: events is now scanned sequentially, was Bitmap Heap Scan$/m);
  assert.match(block, /^ {2}FAIL cost: cost /m);
  assert.match(
    run.stdout,
    /7 queries: 6 same, 1 seq-scan regression; 3 failing findings \(1 seq-scan, 1 cost, 1 shape\)/,
  );
  // Suggested, never applied
  assert.deepEqual(await indexes(), left);
});
