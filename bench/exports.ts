// Issue 13, exports: how fast casebook acknowledges an export request, and how long a 20,000-case export takes
// from request to downloadable, with casebook's memory growth meanwhile. Casebook on a PostgreSQL of this
// script's own (demo data, acme's cases topped up to 20,000), its export workers in the same process.
//
//   npm run bench:exports
//   BENCH_ACK_RATE=100 BENCH_ACK_SECONDS=20 npm run bench:exports
//
// (a) ack: POST /v1/exports at BENCH_ACK_RATE (50/s) for BENCH_ACK_SECONDS (10 s), open model through the repo's
//     load engine, each with its own Idempotency-Key, filtered to a word no case has, so the jobs behind the
//     acks are light and the figure is the request's own: p50 / p95 / p99 against the goal (p95 ≤ 20 ms) and the
//     seed's 200 ms.
// (b) 20,000 cases of one tenant in CSV: POST, then GET /v1/exports/:id every 50 ms until done; request →
//     done (goal ≤ 5 s; the seed's 90 s), casebook's RSS every 50 ms (growth over its level before the
//     request, goal ≤ 50 MB), and the download's rows and bytes checked.

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '@headroom/dev-servers/postgres';
import pg from 'pg';
import { runParallel } from '../packages/cli/src/engine/parallel.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import { benchOperatorToken, startNode } from './lib/process.ts';

const ackRate = Number(process.env.BENCH_ACK_RATE ?? 50);
const ackSeconds = Number(process.env.BENCH_ACK_SECONDS ?? 10);
const exportCases = 20_000;
const goals = { ackP95: 20, seedAck: 200, done: 5_000, seedDone: 90_000, rss: 50 };
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function login(origin: string, email: string): Promise<string> {
  const res = await fetch(`${origin}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'headroom-demo' }),
  });
  if (!res.ok) throw new Error(`login ${email}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Resident set size of a process, in MB, from /proc. */
async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

const dir = await mkdtemp(join(tmpdir(), 'headroom-bench-exports-'));
await chmod(dir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
const server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
let casebook: Awaited<ReturnType<typeof startNode>> | undefined;
try {
  await server.createDatabase('casebook');
  casebook = await startNode(join(import.meta.dirname, '..', 'apps/casebook/src/server.ts'), {
    env: {
      DATA_DIR: join(dir, 'casebook'),
      DATABASE_URL: server.url('casebook'),
      SEED_PROFILE: 'demo',
      PORT: '0',
      LOG_LEVEL: 'warn',
      QUOTA_SCALE: '1000', // the tenant's request quota out of the way: this measures exports
      OPERATOR_TOKEN: benchOperatorToken,
    },
    ready: /casebook is ready at (http:\/\/\S+)/,
  });
  const origin = casebook.match!;
  const pid = casebook.child.pid!;
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${origin}/health/ready`)).ok) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // acme's cases topped up to 20,000 (the demo data gives it half of 20,000).
  const pool = new pg.Pool({ connectionString: server.url('casebook'), max: 2 });
  const tenant = (await pool.query(`SELECT id FROM tenants WHERE slug = 'acme'`)).rows[0].id as number;
  const have = (await pool.query('SELECT count(*)::int AS n FROM cases WHERE tenant_id = $1', [tenant]))
    .rows[0].n;
  await pool.query(
    `INSERT INTO cases (tenant_id, title, description, status, priority, created_at, updated_at)
     SELECT $1, 'Bench case ' || n, 'Added for the export bench, with "quotes", commas, and a line
break.', 'open', 'low', now() - n * interval '1 minute', now() FROM generate_series(1, $2) n`,
    [tenant, Math.max(0, exportCases - have)],
  );
  await pool.query('ANALYZE cases');
  await pool.end();
  const token = await login(origin, 'analyst@acme.test');
  console.log(
    `exports bench (issue 13): casebook (demo data, acme topped up to ${exportCases} cases), node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );

  // (a) acknowledgements.
  const file = join(dir, 'ack.yaml');
  await writeFile(
    file,
    [
      'name: export-ack',
      `target: ${origin}`,
      'seed: 13',
      'model: open',
      'timeout: 10s',
      'vars:',
      `  token: ${token}`,
      'stages:',
      `  - { name: warm-up, duration: 2s, rate: ${Math.max(1, Math.round(ackRate / 5))}/s, judge: false }`,
      `  - { name: ack, duration: ${ackSeconds}s, rate: ${ackRate}/s }`,
      'flows:',
      '  - name: request',
      '    steps:',
      '      - method: POST',
      '        path: /v1/exports',
      '        headers: { authorization: "Bearer ${vars.token}", idempotency-key: "bench-${int(1, 2000000000)}-${int(1, 2000000000)}" }',
      '        json: { kind: cases, format: csv, filter: { q: zyxwvutsrq } }',
      '        status: [202]',
    ].join('\n'),
  );
  const result = await runParallel(await loadScenario(file), file, {
    workers: 1,
    routes: ['POST /v1/exports'],
    connections: 64,
    warmConnections: 8,
  });
  const ack = result.cells.find((c) => c.stage === 'ack');
  const p = (q: number) => ack?.percentileMs(q) ?? Number.NaN;
  const accepted = Number(ack?.codes['202'] ?? 0);
  console.log(
    `(a) ack at ${ackRate}/s for ${ackSeconds} s: ${ack?.count ?? 0} requests, ${accepted} × 202; p50 ${fmt(p(50))} ms, p95 ${fmt(p(95))} ms, p99 ${fmt(p(99))} ms, max ${fmt(p(100))} ms`,
  );

  // (b) one 20,000-case export, request → done, with casebook's RSS.
  const before = await rssMb(pid);
  let peak = before;
  const sampling = setInterval(() => {
    rssMb(pid).then(
      (mb) => {
        peak = Math.max(peak, mb);
      },
      () => {},
    );
  }, 50);
  const started = performance.now();
  const created = await fetch(`${origin}/v1/exports`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': `"bench-full-${Date.now()}"`,
    },
    body: JSON.stringify({ kind: 'cases', format: 'csv' }),
  });
  const ackMs = performance.now() - started;
  const { id } = (await created.json()) as { id: number };
  let view: { status: string; rows: number | null; bytes: number | null } = {
    status: 'queued',
    rows: null,
    bytes: null,
  };
  while (view.status !== 'done' && view.status !== 'failed' && performance.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    view = (await (
      await fetch(`${origin}/v1/exports/${id}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as typeof view;
  }
  const doneMs = performance.now() - started;
  clearInterval(sampling);
  const download = await fetch(`${origin}/v1/exports/${id}/download`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await download.text();
  const lines = text.trimEnd().split('\r\n').length; // quoted line breaks make some records two lines
  const records = (await (
    await fetch(`${origin}/v1/exports/${id}`, { headers: { authorization: `Bearer ${token}` } })
  ).json()) as { rows: number };
  console.log(
    `(b) ${exportCases} cases, CSV: acknowledged in ${fmt(ackMs)} ms, ${view.status} after ${fmt(doneMs, 0)} ms; ${records.rows} rows, ${view.bytes} bytes (download ${Buffer.byteLength(text)} bytes, ${lines} lines); casebook RSS ${fmt(before)} MB before, peak ${fmt(peak)} MB (+${fmt(peak - before)} MB)`,
  );
  const pass = (good: boolean) => (good ? 'met' : 'NOT met');
  console.log('\ngoals (issue 13):');
  console.log(
    `  export ack p95 ≤ ${goals.ackP95} ms at ${ackRate}/s: ${fmt(p(95))} ms: ${pass(p(95) <= goals.ackP95)} (seed: ${goals.seedAck} ms)`,
  );
  console.log(
    `  ${exportCases}-case export request → downloadable ≤ ${goals.done} ms: ${fmt(doneMs, 0)} ms: ${pass(view.status === 'done' && doneMs <= goals.done)} (seed: ${goals.seedDone} ms)`,
  );
  console.log(
    `  casebook RSS growth during it ≤ ${goals.rss} MB: +${fmt(peak - before)} MB: ${pass(peak - before <= goals.rss)}`,
  );
  console.log(
    `  the file: ${records.rows === exportCases ? 'every case' : `${records.rows} of ${exportCases} cases`}, ${Buffer.byteLength(text) === view.bytes ? 'bytes as recorded' : 'bytes differ from the record'}`,
  );
} finally {
  await casebook?.stop();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
