// How right is each load tool about a server that stalls for 1 s every 10 s? At a constant 200 req/s for
// 60 s with 10 connections (a stall needs 200), the truth is: 90% of requests answer at once (≈0.2 ms),
// 10% wait out the rest of a stall, uniform over 0–1 s, so p50 ≈ 0.2 ms, p95 ≈ 500 ms, p99 ≈ 900 ms.
//
//   node bench/load-accuracy.ts            (BENCH_SECONDS=20 for a shorter run; the truth scales with it)

import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { runScenario } from '../packages/cli/src/engine/run.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import { wrk } from './lib/load.ts';
import { startNode } from './lib/process.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const rate = 200;
const connections = 10;
const truth = { p50: 0.2, p95: 500, p99: 900 };

async function withServer<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const server = await startNode(join(import.meta.dirname, 'servers/stalling.ts'), {
    ready: /listening on (http:\/\/\S+)/,
  });
  try {
    return await fn(server.match!);
  } finally {
    await server.stop();
  }
}

const rows: [string, number, number, number, string][] = [];

const ours = await withServer(async (url) => {
  const file = join(tmpdir(), 'headroom-accuracy.yaml');
  await writeFile(
    file,
    `name: stall\nstages: [{ name: steady, duration: ${seconds}s, rate: ${rate}/s }]\nflows: [{ name: f, steps: [{ method: GET, path: / }] }]\n`,
  );
  const result = await runScenario(await loadScenario(file, { target: url }), { connections });
  return result.cells[0]!;
});
rows.push([
  'headroom load (corrected)',
  ours.percentileMs(50),
  ours.percentileMs(95),
  ours.percentileMs(99),
  `${ours.count} requests`,
]);
rows.push([
  'headroom load (raw, from send)',
  ours.percentileMs(50, 'raw'),
  ours.percentileMs(95, 'raw'),
  ours.percentileMs(99, 'raw'),
  'what the server took once a request reached it',
]);

for (const [label, extra] of [
  ['autocannon -R 200 (its correction: 1 ms expected interval)', {}],
  ['autocannon -R 200 -C (correction off)', { ignoreCoordinatedOmission: true } as Record<string, unknown>],
] as const) {
  const result = await withServer(
    (url) =>
      new Promise<autocannon.Result>((resolve, reject) => {
        autocannon({ url, connections, overallRate: rate, duration: seconds, ...extra }, (error, res) =>
          error ? reject(error) : resolve(res),
        );
      }),
  );
  const l = result.latency as unknown as Record<string, number>;
  rows.push([
    label,
    l.p50!,
    l.p97_5!,
    l.p99!,
    `${result.requests.total} requests; autocannon has no p95, p97.5 shown`,
  ]);
}

const wrkResult = await withServer(async (url) => wrk(`${url}/`, { connections, seconds }));
rows.push([
  `wrk -c${connections} (closed loop, no rate)`,
  wrkResult.p50Ms,
  Number.NaN,
  wrkResult.p99Ms,
  `${wrkResult.rps.toFixed(0)} req/s, not 200`,
]);

console.log(
  `\nstalling server (1 s of every 10 s), ${rate} req/s for ${seconds} s, ${connections} connections`,
);
console.log(`truth: p50 ≈ ${truth.p50} ms, p95 ≈ ${truth.p95} ms, p99 ≈ ${truth.p99} ms\n`);
console.log('| tool | p50 ms | p95 ms | p99 ms | note |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const [tool, p50, p95, p99, note] of rows) {
  const f = (n: number) => (Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(0));
  console.log(`| ${tool} | ${f(p50)} | ${f(p95)} | ${f(p99)} | ${note} |`);
}
const within = (observed: number, expected: number) => Math.abs(observed - expected) / expected;
console.log(
  `\nheadroom corrected vs truth: p95 off by ${(within(ours.percentileMs(95), truth.p95) * 100).toFixed(1)}%, ` +
    `p99 off by ${(within(ours.percentileMs(99), truth.p99) * 100).toFixed(1)}% (goal ≤ 10%); ` +
    `p50 ${ours.percentileMs(50).toFixed(2)} ms (truth ≈ ${truth.p50} ms)`,
);
