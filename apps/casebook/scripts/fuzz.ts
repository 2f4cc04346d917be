// `npm run fuzz`: the fuzz suite's properties at length (CI runs a bounded number in test/fuzz.test.ts).
// Usage: npm run fuzz -- [--runs 2000] [--seed N]. Prints a table (route, runs, seed, verdict); exit 1 on failure.

import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { rawRequest } from '@headroom/dev-servers/raw-http';
import fc from 'fast-check';
import { globalSetup, globalTeardown } from '../../../test/global-setup.ts';
import { checkRawAnswer, randomWire, rawCases, runRawCase } from '../test/support/fuzz/raw.ts';
import { fuzzRoutes } from '../test/support/fuzz/routes.ts';
import { fuzzRoute, startFuzzTarget } from '../test/support/fuzz/run.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '2000' }, seed: { type: 'string' } },
});
const runs = Number(values.runs);
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

await globalSetup();
const cursors: string[] = [];
const routes = fuzzRoutes(cursors);
const target = await startFuzzTarget(cursors);
await target.t.app.listen({ port: 0, host: '127.0.0.1' });
const port = (target.t.app.server.address() as AddressInfo).port;
const started = performance.now();
let failed = 0;
let total = 0;
const rows: string[][] = [];
try {
  for (const [i, route] of routes.entries()) {
    const verdict = await fuzzRoute(target, route, { runs, seed: seed + i });
    total += verdict.numRuns;
    rows.push([
      `${route.method} ${route.url}`,
      String(verdict.numRuns),
      String(seed + i),
      verdict.failed ? 'FAIL' : 'ok',
    ]);
    if (verdict.failed) {
      failed++;
      console.error(`\n${route.method} ${route.url}: ${verdict.errorInstance}\n`);
    }
  }
  for (const rawCase of rawCases) {
    try {
      await runRawCase(port, rawCase, target.tokens[0]!);
      rows.push([`raw: ${rawCase.name}`, '1', '-', 'ok']);
    } catch (error) {
      failed++;
      rows.push([`raw: ${rawCase.name}`, '1', '-', 'FAIL']);
      console.error(`\nraw ${rawCase.name}: ${error}\n`);
    }
    total++;
  }
  const wire = await fc.check(
    fc.asyncProperty(randomWire, async (bytes) => {
      checkRawAnswer(await rawRequest(port, bytes, 10_000), JSON.stringify(bytes));
    }),
    { numRuns: runs, seed },
  );
  total += wire.numRuns;
  rows.push([
    'raw: random bytes on the wire',
    String(wire.numRuns),
    String(seed),
    wire.failed ? 'FAIL' : 'ok',
  ]);
  if (wire.failed) {
    failed++;
    console.error(`\nrandom wire: ${wire.errorInstance}\n`);
  }
} finally {
  await target.t.close();
  await globalTeardown();
}

const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), 5));
const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
console.log(`\n${line(['route', 'runs', 'seed', 'verdict'])}`);
for (const row of rows) console.log(line(row));
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\n${total} cases in ${seconds} s, seed ${seed} (--seed ${seed} replays it): ${failed} failing`);
process.exit(failed > 0 ? 1 : 0);
