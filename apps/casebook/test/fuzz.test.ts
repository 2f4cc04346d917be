// The fuzz suite, bounded for CI: every route (API, health, metrics, admin) under property-based attack with
// a fresh seed each run (FUZZ_SEED replays one, FUZZ_RUNS scales it), and raw-socket requests no HTTP client
// would send. `npm run fuzz` runs the same properties much longer.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { rawRequest } from '@headroom/dev-servers/raw-http';
import fc from 'fast-check';
import { checkRawAnswer, randomWire, rawCases, runRawCase } from './support/fuzz/raw.ts';
import { fuzzRoutes } from './support/fuzz/routes.ts';
import { type FuzzTarget, fuzzRoute, startFuzzTarget } from './support/fuzz/run.ts';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs = Number(process.env.FUZZ_RUNS ?? 150);

const cursors: string[] = [];
const routes = fuzzRoutes(cursors);
let target: FuzzTarget;
let port: number;
before(async () => {
  target = await startFuzzTarget(cursors);
  await target.t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (target.t.app.server.address() as AddressInfo).port;
  console.log(`# fuzz seed ${seed}, ${runs} runs per route (FUZZ_SEED=${seed} replays it)`);
});
after(() => target.t.close());

test('the route table covers every route of the app', async () => {
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
  let total = 0;
  after(() => console.log(`# fuzz: ${total} requests over ${routes.length} routes, seed ${seed}`));
  // Each route gets its own seed from the run's, so one route's failure replays alone.
  for (const [i, route] of routes.entries()) {
    const name = `${route.method} ${route.url}`;
    test(name, async () => {
      const verdict = await fuzzRoute(target, route, { runs, seed: seed + i });
      total += verdict.numRuns;
      if (verdict.failed) {
        assert.fail(
          `${name}: seed ${seed + i} (run FUZZ_SEED=${seed}), path ${verdict.counterexamplePath}\n` +
            `counterexample: ${JSON.stringify(verdict.counterexample)}\n${verdict.errorInstance}`,
        );
      }
    });
  }
});

describe('raw sockets: what no HTTP client sends', () => {
  for (const rawCase of rawCases) {
    test(rawCase.name, async () => {
      await runRawCase(port, rawCase, target.tokens[0]!);
    });
  }

  test('random bytes in the method, path, headers and body: answered or closed in time, never a 5xx', async () => {
    const wireRuns = Math.max(20, Math.floor(runs / 2));
    await fc.assert(
      fc.asyncProperty(randomWire, async (bytes) => {
        checkRawAnswer(await rawRequest(port, bytes, 10_000), JSON.stringify(bytes));
      }),
      { numRuns: wireRuns, seed },
    );
    console.log(`# raw: ${rawCases.length} named cases and ${wireRuns} random ones, seed ${seed}`);
  });
});
