// The fuzz suite, bounded for CI: every route (API, health, metrics, admin) under property-based attack with
// a fresh seed each run (FUZZ_SEED replays one, FUZZ_RUNS scales it), and raw-socket requests no HTTP client
// would send. `npm run fuzz` runs the same properties much longer.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fuzzWire, runRawCase } from './support/fuzz/raw.ts';
import { rawCases } from './support/fuzz/raw-cases.ts';
import { fuzzRoutes, type Issued } from './support/fuzz/routes.ts';
import { fuzzRoute, statusSummary } from './support/fuzz/run.ts';
import { type FuzzTarget, startFuzzTarget } from './support/fuzz/target.ts';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs = Number(process.env.FUZZ_RUNS ?? 150);
const wireRuns = Math.max(20, Math.floor(runs / 2));

const issued: Issued = { cursors: [], etags: [], names: [] };
const routes = fuzzRoutes(issued);
let target: FuzzTarget;
let port: number;
let cases = 0;
before(async () => {
  target = await startFuzzTarget(issued);
  await target.t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (target.t.app.server.address() as AddressInfo).port;
  console.log(`# fuzz seed ${seed}, ${runs} runs per route (FUZZ_SEED=${seed} replays it)`);
});
after(async () => {
  console.log(`# fuzz: ${cases} cases (requests, raw cases, wire runs), seed ${seed}`);
  await target.t.close();
});

test('the route table covers every route of the app', () => {
  const served = new Set(
    target.t.app.headroom.routes.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`),
  );
  const fuzzed = new Set(routes.map((r) => `${r.method} ${r.url}`));
  assert.deepEqual(
    [...served].filter((r) => !fuzzed.has(r)),
    [],
    'routes the fuzz table misses',
  );
});

describe('every route, hostile input', () => {
  // Each route gets its own seed from the run's, so one route's failure replays alone.
  for (const [i, route] of routes.entries()) {
    const name = `${route.method} ${route.url}`;
    test(name, async (t) => {
      const verdict = await fuzzRoute(target, issued, route, { runs, seed: seed + i });
      cases += verdict.requests;
      t.diagnostic(`${verdict.requests} requests, seed ${seed + i}: ${statusSummary(verdict.statuses)}`);
      if (verdict.failure) assert.fail(`${name} (run FUZZ_SEED=${seed}):\n${verdict.failure}`);
    });
  }
});

describe('raw sockets: what no HTTP client sends', () => {
  for (const rawCase of rawCases) {
    test(rawCase.name, async () => {
      cases++;
      await runRawCase(target, port, rawCase);
    });
  }

  test('random bytes in the method, path, headers and body: answered or closed in time, never a 5xx', async () => {
    const details = await fuzzWire(port, { runs: wireRuns, seed });
    cases += details.numRuns;
    if (details.failed) assert.fail(`random wire (run FUZZ_SEED=${seed}):\n${details.errorInstance}`);
  });
});
