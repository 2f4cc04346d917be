// `npm run db:record`: records the statements every casebook route sends (the fuzz suite's requests, valid and
// hostile, against a test database) into apps/casebook/db/queries.json, the statement catalogue that
// `headroom db plans` explains and `headroom db top --queries` attributes routes by. Run it after adding or
// changing a query; a test fails while the catalogue misses a statement the routes send.
// Usage: npm run db:record -- [--runs 30] [--seed 1]

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { globalSetup, globalTeardown } from '../../../test/global-setup.ts';
import { recordEveryRoute } from '../test/support/statement-recorder.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, seed: { type: 'string', default: '1' } },
});
const runs = Number(values.runs);
const seed = Number(values.seed);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

/** Where the catalogue lives. */
export const cataloguePath = join(import.meta.dirname, '..', 'db', 'queries.json');

await globalSetup();
let catalogue: Awaited<ReturnType<typeof recordEveryRoute>>;
try {
  catalogue = await recordEveryRoute({ runs, seed });
} finally {
  await globalTeardown();
}
await writeFile(cataloguePath, `${JSON.stringify(catalogue, null, 2)}\n`);
console.log(
  `${catalogue.queries.length} statements from ${new Set(catalogue.queries.flatMap((q) => q.routes)).size} routes → ${cataloguePath}`,
);
