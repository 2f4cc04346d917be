// `npm run fuzz`: the fuzz suite's properties at length (CI runs a bounded number in test/fuzz.test.ts).
// Usage: npm run fuzz -- [--runs 2000] [--seed N]. Prints a table (route, runs, seed, answers, verdict);
// exit 1 on any failure.

import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { globalSetup, globalTeardown } from '../../../test/global-setup.ts';
import { fuzzWire, runRawCase } from '../test/support/fuzz/raw.ts';
import { rawCases } from '../test/support/fuzz/raw-cases.ts';
import { fuzzRoutes, type Issued } from '../test/support/fuzz/routes.ts';
import { fuzzRoute, statusSummary } from '../test/support/fuzz/run.ts';
import { startFuzzTarget } from '../test/support/fuzz/target.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '2000' }, seed: { type: 'string' } },
});
const runs = Number(values.runs);
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

await globalSetup();
const issued: Issued = { cursors: [], etags: [], names: [] };
const routes = fuzzRoutes(issued);
const target = await startFuzzTarget(issued);
await target.t.app.listen({ port: 0, host: '127.0.0.1' });
const port = (target.t.app.server.address() as AddressInfo).port;
console.log(`fuzz seed ${seed}, ${runs} runs per route (--seed ${seed} replays it)`);
const started = performance.now();
let failed = 0;
let total = 0;
const rows: string[][] = [];
const row = (name: string, n: number, s: string, answers: string, failure: string | undefined) => {
  rows.push([name, String(n), s, answers, failure ? 'FAIL' : 'ok']);
  if (failure) {
    failed++;
    console.error(`\n${name}:\n${failure}\n`);
  }
};
try {
  for (const [i, route] of routes.entries()) {
    const verdict = await fuzzRoute(target, issued, route, { runs, seed: seed + i });
    total += verdict.requests;
    const name = `${route.method} ${route.url}`;
    row(name, verdict.requests, String(seed + i), statusSummary(verdict.statuses), verdict.failure);
    process.stderr.write('.');
  }
  for (const rawCase of rawCases) {
    let failure: string | undefined;
    let status = '-';
    try {
      status = String((await runRawCase(target, port, rawCase)).status ?? 'closed');
    } catch (error) {
      failure = String(error);
    }
    total++;
    row(`raw: ${rawCase.name}`, 1, '-', status, failure);
  }
  const wire = await fuzzWire(port, { runs, seed });
  total += wire.numRuns;
  row('raw: random bytes on the wire', wire.numRuns, String(seed), '-', fc.defaultReportMessage(wire));
} finally {
  await target.t.close();
  await globalTeardown();
}

const header = ['route', 'runs', 'seed', 'answers', 'verdict'];
const widths = header.map((title, c) => Math.max(title.length, ...rows.map((r) => r[c]!.length)));
const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
console.log(`\n${line(header)}`);
for (const r of rows) console.log(line(r));
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\n${total} cases in ${seconds} s, seed ${seed} (--seed ${seed} replays it): ${failed} failing`);
process.exit(failed > 0 ? 1 : 0);
