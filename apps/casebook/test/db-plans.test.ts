// The query-plan gate as CI runs it: the statement catalogue (apps/casebook/db/queries.json) holds every
// statement the routes send, and `headroom db plans` explains each of them on the bench-size dataset (100k cases,
// 2M events) and finds no plan worse than its snapshot (apps/casebook/db/plans.json), no sequential scan of a
// large table, no nested loop over many rows, no statement sent over and over in one request.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { headroomDb } from '../../../packages/cli/test/support/headroom-bin.ts';
import { profiles, seed } from '../src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { type CatalogueEntry, recordEveryRoute } from './support/statement-recorder.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const catalogueFile = join(root, 'apps/casebook/db/queries.json');
const snapshotFile = join(root, 'apps/casebook/db/plans.json');

let bench: TestDatabase;
before(async () => {
  bench = await createTestDatabase();
  await seed(bench.pool, profiles.bench); // seed 1, as `npm run db:plans` seeds it; ANALYZE included
});
after(() => bench.close());

test('the statement catalogue holds every statement the routes send (else: npm run db:record)', async () => {
  const catalogue = JSON.parse(await readFile(catalogueFile, 'utf8')) as { queries: CatalogueEntry[] };
  const known = new Map(catalogue.queries.map((q) => [q.text, q]));
  const sent = (await recordEveryRoute({ runs: 8, seed: 1 })).queries;
  assert.ok(sent.length > 20, `only ${sent.length} statements recorded`);
  const missing = sent.filter((q) => !known.has(q.text)).map((q) => `${q.name} (${q.routes.join(', ')})`);
  assert.deepEqual(missing, [], 'statements the routes send that the catalogue lacks: run npm run db:record');
  // Which routes share a statement (the authentication lookups, by session or API key) depends on the callers
  // the fuzz suite draws, so routes are not compared: the catalogue's lists come from its own, longer recording.
});

test('headroom db plans passes on the bench dataset against the committed snapshot', async (t) => {
  const started = performance.now();
  const { code, stdout, stderr } = await headroomDb('plans', [
    '--database-url',
    bench.url,
    '--queries',
    catalogueFile,
    '--snapshot',
    snapshotFile,
  ]);
  t.diagnostic(`db plans took ${Math.round(performance.now() - started)} ms`);
  assert.equal(code, 0, `headroom db plans failed:\n${stdout}\n${stderr}`);
});
