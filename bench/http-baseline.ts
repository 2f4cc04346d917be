// Foundation baseline: bare Fastify vs casebook (uncached search, detail) with wrk in the same run;
// uncached search over the bench profile at a steady 200 req/s; detail p95 at expand depth 3 ÷ depth 0;
// time from `npm start` to ready on an empty and on a warm DATA_DIR.
//
//   npm run bench:http-baseline                 # full run (first run seeds 100k cases / 2M events once)
//   BENCH_SECONDS=5 npm run bench:http-baseline # shorter load phases

import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { steadyRate, wrk } from './lib/load.ts';
import { startNode } from './lib/process.ts';

const root = join(import.meta.dirname, '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const server = join(root, 'apps/casebook/src/server.ts');
const ready = /casebook is ready at (http:\/\/\S+)/;
const results: Record<string, unknown> = {};
const fmt = (n: number, digits = 2) => n.toFixed(digits);

// 1. Start-up time: empty DATA_DIR (initdb + migrations + demo seed), then the same DATA_DIR warm.
{
  const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-start-'));
  await chmod(dataDir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
  const env = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' };
  const cold = await startNode(server, { env, ready });
  await cold.stop();
  const warm = await startNode(server, { env, ready });
  await warm.stop();
  await rm(dataDir, { recursive: true, force: true });
  results.startup = { coldMs: Math.round(cold.readyMs), warmMs: Math.round(warm.readyMs) };
  console.log(
    `start-up to ready: empty DATA_DIR ${fmt(cold.readyMs / 1000, 1)} s, warm ${fmt(warm.readyMs / 1000, 1)} s`,
  );
}

// 2. Casebook on the bench profile (kept in .data/bench so the 2M-event dataset is built once).
const benchData = process.env.BENCH_DATA_DIR ?? join(root, '.data', 'bench');
await mkdir(benchData, { recursive: true });
console.log(`starting casebook on the bench profile in ${benchData} (the first run seeds it)...`);
const casebook = await startNode(server, {
  env: {
    DATA_DIR: benchData,
    PORT: '0',
    LOG_LEVEL: 'warn',
    SEED_PROFILE: 'bench',
    QUOTA_SCALE: '1000',
    READ_CACHE: 'off',
  },
  ready,
  timeoutMs: 900_000,
});
const bare = await startNode(join(import.meta.dirname, 'servers/bare-fastify.ts'), {
  ready: /listening on (http:\/\/\S+)/,
});
try {
  const origin = casebook.match!;
  const login = await fetch(`${origin}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
  });
  const { token } = (await login.json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };
  const listing = (await (await fetch(`${origin}/v1/cases/search?limit=100`, { headers: auth })).json()) as {
    data: { id: number }[];
  };
  const ids = listing.data.map((c) => c.id);
  const caseId = ids[0]!;

  // Warm-up: JIT, plan caches, PostgreSQL buffers.
  wrk(`${bare.match}/page`, { seconds: 3 });
  wrk(`${origin}/v1/cases/search?q=fraud`, { seconds: 3, headers: auth });

  const bareRun = wrk(`${bare.match}/page`, { seconds });
  const searchRun = wrk(`${origin}/v1/cases/search?q=fraud`, { seconds, headers: auth });
  const detailRun = wrk(`${origin}/v1/cases/${caseId}?expand=owner.team.org`, { seconds, headers: auth });
  results.wrk = { bare: bareRun, search: searchRun, detailDepth3: detailRun };
  console.log('\nwrk, 1 thread, 32 connections, same run:');
  console.log('| endpoint | req/s | p50 ms | p99 ms | errors | ÷ bare req/s |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r] of [
    ['bare Fastify, 20-item page', bareRun],
    ['casebook search q=fraud (uncached)', searchRun],
    ['casebook detail expand=owner.team.org', detailRun],
  ] as const) {
    console.log(
      `| ${name} | ${fmt(r.rps, 0)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.errors} | ${fmt(r.rps / bareRun.rps)} |`,
    );
  }

  // Steady 200 req/s, open model, rotating terms over 100k cases.
  const terms = [
    'fraud',
    'phishing',
    'chargeback',
    'laundering',
    'takeover',
    'sanctions',
    'wire transfer',
    'invoice',
  ];
  const steady = await steadyRate(origin, '/v1/cases/search?q=${pick(vars.terms)}', {
    rate: 200,
    seconds,
    headers: auth,
    vars: { terms },
  });
  results.search200 = steady;
  console.log(
    `\nuncached search at a steady 200 req/s for ${seconds} s (100k cases, latency from intended start): ` +
      `p50 ${fmt(steady.p50Ms)} ms, p95 ${fmt(steady.p95Ms)} ms, p99 ${fmt(steady.p99Ms)} ms, ` +
      `achieved ${fmt(steady.achievedRps, 0)} req/s, errors ${steady.errors}`,
  );

  const depth = (expand: string) =>
    steadyRate(origin, `/v1/cases/\${pick(vars.ids)}${expand ? `?expand=${expand}` : ''}`, {
      rate: 200,
      seconds,
      headers: auth,
      vars: { ids },
    });
  const d0 = await depth('');
  const d3 = await depth('owner.team.org');
  results.detail = { depth0: d0, depth3: d3, p95Ratio: d3.p95Ms / d0.p95Ms };
  console.log(
    `detail at 200 req/s: depth 0 p95 ${fmt(d0.p95Ms)} ms, depth 3 p95 ${fmt(d3.p95Ms)} ms, ` +
      `depth 3 ÷ depth 0 = ${fmt(d3.p95Ms / d0.p95Ms)} (goal ≤ 1.5)`,
  );
} finally {
  await bare.stop();
  await casebook.stop();
}

await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
await writeFile(
  join(import.meta.dirname, 'results', 'http-baseline.json'),
  `${JSON.stringify(results, null, 2)}\n`,
);
