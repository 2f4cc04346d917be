// pg-boss against graphile-worker, on one embedded PostgreSQL, in the same run: the figures the jobs
// module is chosen by (docs/jobs-choice.md).
//
//   npm run bench:jobs-libraries
//     JOBS_N        trivial jobs for throughput, default 10 000
//     JOBS_WORKERS  workers (concurrency) for (a) and (b), default 24, graphile-worker's published setting
//     JOBS_RATES    arrival rates for (b), default 1000,250 jobs/s
//     JOBS_FIRST    graphile-worker to measure it first (default pg-boss first)
//
// (a) throughput: N trivial jobs enqueued one call each (16 producers), then run; jobs/s from the first
//     handler start to the moment the database shows none left.
// (b) enqueue → start: jobs enqueued by a paced loop at each of JOBS_RATES for 1 s of warm-up plus 10 s
//     measured (open model: each arrival is sent at its time whatever the earlier ones did; at most 1000
//     enqueues in flight, later arrivals dropped and counted); latency from the arrival's scheduled time
//     to its handler's first line, and from the enqueue call's answer (committed) to that line.
// (c) transactional enqueue from a pg client: BEGIN, enqueue, ROLLBACK → does the job exist? BEGIN,
//     enqueue, (visible from another connection before COMMIT?), COMMIT → does it exist?
// (d) fairness: tenant A has 10 000 jobs queued (5 ms each, 4 workers), tenant B then enqueues one; how
//     long does B's job wait, without grouping and with each library's grouping?
// Producers, workers and PostgreSQL share this machine; the libraries run one after the other.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres } from '@headroom/dev-servers/postgres';
import type * as hdr from 'hdr-histogram-js';
import pg from 'pg';
import { type Contender, graphileWorker, pgBoss } from './lib/job-queues.ts';
import { histogram, percentileMs } from './lib/open-loop.ts';

const jobCount = Number(process.env.JOBS_N ?? 10_000);
const workers = Number(process.env.JOBS_WORKERS ?? 24);
const rates = (process.env.JOBS_RATES ?? '1000,250').split(',').map(Number);
const latencySeconds = 10;
const warmupSeconds = 1;
const producers = 16;
/** No measurement waits longer than this for jobs to finish. */
const drainLimitMs = 45_000;

async function waitFor(check: () => Promise<boolean>, limitMs: number, everyMs = 20): Promise<boolean> {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}

interface Throughput {
  enqueueRate: number;
  runRate: number;
  completed: number;
}

async function throughput(c: Contender): Promise<Throughput> {
  const queue = 'thru';
  await c.setup(queue);
  let next = 0;
  const enqueueStart = performance.now();
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (next < jobCount) await c.enqueue(queue, { i: next++ });
    }),
  );
  const enqueueRate = jobCount / ((performance.now() - enqueueStart) / 1000);
  let first = 0;
  let handled = 0;
  const worker = await c.work(queue, { concurrency: workers }, () => {
    if (handled++ === 0) first = performance.now();
  });
  await waitFor(async () => handled > 0 && (await c.pending(queue)) === 0, drainLimitMs);
  const end = performance.now();
  await worker.stop();
  const completed = jobCount - (await c.pending(queue));
  await c.clear(queue);
  return { enqueueRate, runRate: completed / ((end - first) / 1000), completed };
}

interface Latency {
  rate: number;
  /** From the arrival's scheduled time to its handler's start. */
  h: hdr.Histogram;
  /** From the enqueue call's resolution (the insert committed and answered) to its handler's start. */
  fromCommit: hdr.Histogram;
  sent: number;
  started: number;
  dropped: number;
  errors: number;
  achievedRate: number;
}

async function latency(c: Contender, rate: number): Promise<Latency> {
  const queue = `lat_${rate}`;
  await c.setup(queue);
  const total = rate * (warmupSeconds + latencySeconds);
  const measuredFrom = rate * warmupSeconds;
  const scheduled = new Float64Array(total);
  const committed = new Float64Array(total);
  const startedAt = new Float64Array(total);
  let started = 0;
  const worker = await c.work(queue, { concurrency: workers }, ({ i }) => {
    startedAt[i] = performance.now();
    started++;
  });
  let inflight = 0;
  let sent = 0;
  let dropped = 0;
  let errors = 0;
  const t0 = performance.now() + 50;
  for (let i = 0; i < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    for (; i < due; i++) {
      scheduled[i] = t0 + (i * 1000) / rate;
      if (inflight >= 1000) {
        dropped++;
        continue;
      }
      inflight++;
      sent++;
      const k = i;
      c.enqueue(queue, { i }).then(
        () => {
          committed[k] = performance.now();
          inflight--;
        },
        () => {
          inflight--;
          errors++;
        },
      );
    }
    await sleep(1);
  }
  const achievedRate = sent / ((performance.now() - t0) / 1000);
  await waitFor(async () => inflight === 0 && started >= sent - errors, drainLimitMs);
  await worker.stop();
  await c.clear(queue);
  const h = histogram();
  const fromCommit = histogram();
  const us = (ms: number) => Math.max(1, Math.round(ms * 1000));
  for (let i = measuredFrom; i < total; i++) {
    const start = startedAt[i] ?? 0;
    if (start === 0) continue;
    h.recordValue(us(start - (scheduled[i] ?? start)));
    fromCommit.recordValue(us(start - (committed[i] || start)));
  }
  return { rate, h, fromCommit, sent, started, dropped, errors, achievedRate };
}

interface Transactional {
  afterRollback: boolean;
  beforeCommit: boolean;
  afterCommit: boolean;
}

async function transactional(c: Contender, producer: pg.Pool): Promise<Transactional> {
  const queue = 'tx';
  await c.setup(queue);
  const client = await producer.connect();
  try {
    await client.query('BEGIN');
    const rolledBack = await c.enqueueIn(client, queue);
    await client.query('ROLLBACK');
    const afterRollback = await c.exists(queue, rolledBack);
    await client.query('BEGIN');
    const committed = await c.enqueueIn(client, queue);
    const beforeCommit = await c.exists(queue, committed);
    await client.query('COMMIT');
    const afterCommit = await c.exists(queue, committed);
    return { afterRollback, beforeCommit, afterCommit };
  } finally {
    client.release();
    await c.clear(queue);
  }
}

interface Fairness {
  /** ms from B's enqueue call to its handler start; NaN when it had not started by the limit. */
  waitMs: number;
  /** Tenant A jobs per second while B waited (and a little after). */
  heavyRate: number;
}

const fairnessWorkers = 4;
const fairnessRunMs = 5;
const fairnessBacklog = 10_000;
const fairnessLimitMs = 5_000;

async function fairness(c: Contender, grouped: boolean): Promise<Fairness> {
  const queue = grouped ? 'fair_grouped' : 'fair_plain';
  await c.setup(queue);
  await c.enqueueMany(queue, fairnessBacklog, grouped ? 'tenant-a' : undefined);
  let bStart = Number.NaN;
  let heavy = 0;
  const worker = await c.work(
    queue,
    { concurrency: fairnessWorkers, ...(grouped ? { groupConcurrency: fairnessWorkers - 1 } : {}) },
    async ({ i }) => {
      if (i === 1) bStart = performance.now();
      else heavy++;
      await sleep(fairnessRunMs);
    },
  );
  await waitFor(async () => heavy > 50, 10_000);
  const heavyFrom = heavy;
  const t = performance.now();
  await c.enqueue(queue, { i: 1 }, grouped ? 'tenant-b' : undefined);
  await waitFor(async () => !Number.isNaN(bStart), fairnessLimitMs, 5);
  await sleep(200);
  const heavyRate = (heavy - heavyFrom) / ((performance.now() - t) / 1000);
  await worker.stop();
  await c.clear(queue);
  return { waitMs: bStart - t, heavyRate };
}

interface Result {
  name: string;
  notes: string[];
  thru: Throughput;
  lat: Latency[];
  tx: Transactional;
  fairPlain: Fairness;
  fairGrouped: Fairness;
}

async function measure(c: Contender, producer: pg.Pool): Promise<Result> {
  const load = () => loadavg()[0]?.toFixed(2);
  console.error(`${c.name}: throughput (load ${load()})`);
  const thru = await throughput(c);
  const lat: Latency[] = [];
  for (const rate of rates) {
    console.error(`${c.name}: latency at ${rate}/s (load ${load()})`);
    lat.push(await latency(c, rate));
  }
  console.error(`${c.name}: transactional enqueue`);
  const tx = await transactional(c, producer);
  console.error(`${c.name}: fairness (load ${load()})`);
  const fairPlain = await fairness(c, false);
  const fairGrouped = await fairness(c, true);
  return { name: c.name, notes: c.notes, thru, lat, tx, fairPlain, fairGrouped };
}

const fmt = (n: number, digits = 0) =>
  Number.isNaN(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function print(a: Result, b: Result) {
  const rows: [string, string, string, string][] = [];
  const num = (label: string, x: number, y: number, digits = 0) =>
    rows.push([label, fmt(x, digits), fmt(y, digits), fmt(x / y, 2)]);
  const flag = (label: string, x: boolean, y: boolean) => rows.push([label, yesNo(x), yesNo(y), '']);
  num(`(a) run, jobs/s (${fmt(jobCount)} trivial, ${workers} workers)`, a.thru.runRate, b.thru.runRate);
  num('(a) enqueue, jobs/s (one call per job, 16 producers)', a.thru.enqueueRate, b.thru.enqueueRate);
  for (const [k, x] of a.lat.entries()) {
    const y = b.lat[k] as Latency;
    for (const p of [50, 95, 99, 100]) {
      const label = p === 100 ? 'max' : `p${p}`;
      num(`(b) ${x.rate}/s: scheduled → start ${label}, ms`, percentileMs(x.h, p), percentileMs(y.h, p), 2);
    }
    for (const p of [50, 95, 99]) {
      num(
        `(b) ${x.rate}/s: committed → start p${p}, ms`,
        percentileMs(x.fromCommit, p),
        percentileMs(y.fromCommit, p),
        2,
      );
    }
    num(`(b) ${x.rate}/s: arrivals sent per second`, x.achievedRate, y.achievedRate);
    rows.push([
      `(b) ${x.rate}/s: started / sent / dropped / errors`,
      ...([x, y].map((r) => `${r.started} / ${r.sent} / ${r.dropped} / ${r.errors}`) as [string, string]),
      '',
    ]);
  }
  flag('(c) job exists after BEGIN, enqueue, ROLLBACK', a.tx.afterRollback, b.tx.afterRollback);
  flag('(c) visible to others before COMMIT', a.tx.beforeCommit, b.tx.beforeCommit);
  flag('(c) job exists after COMMIT', a.tx.afterCommit, b.tx.afterCommit);
  const wait = (f: Fairness) => (Number.isNaN(f.waitMs) ? `> ${fmt(fairnessLimitMs)}` : fmt(f.waitMs, 1));
  rows.push(['(d) B waits, ms, no grouping', wait(a.fairPlain), wait(b.fairPlain), '']);
  num('(d) B waits, ms, grouped by tenant (see below)', a.fairGrouped.waitMs, b.fairGrouped.waitMs, 1);
  num('(d) A jobs/s, no grouping', a.fairPlain.heavyRate, b.fairPlain.heavyRate);
  num('(d) A jobs/s, grouped', a.fairGrouped.heavyRate, b.fairGrouped.heavyRate);
  const w = [0, 1, 2, 3].map((k) =>
    Math.max(...[['', a.name, b.name, 'ratio'], ...rows].map((r) => r[k]?.length ?? 0)),
  );
  const line = (r: string[]) =>
    r.map((cell, k) => (k === 0 ? cell.padEnd(w[0] ?? 0) : cell.padStart(w[k] ?? 0))).join('  ');
  console.log(line(['', a.name, b.name, 'ratio']));
  for (const r of rows) console.log(line(r));
  console.log(`ratio = ${a.name} ÷ ${b.name}`);
  console.log(
    `(d) ${fairnessBacklog} jobs of tenant A queued first, ${fairnessRunMs} ms each, ${fairnessWorkers} workers; grouped = pg-boss groupConcurrency ${fairnessWorkers - 1}, graphile-worker queueName per tenant`,
  );
  for (const r of [a, b]) for (const n of r.notes) console.log(`${r.name}: ${n}`);
}

async function main() {
  const parent = await mkdtemp(join(tmpdir(), 'headroom-bench-jobs-'));
  await chmod(parent, 0o711);
  const server = await startPostgres({ dataDir: join(parent, 'pg'), ephemeral: true });
  const pools: pg.Pool[] = [];
  const pool = (db: string, max: number) => {
    const p = new pg.Pool({ connectionString: server.url(db), max });
    p.on('error', (e) => console.error(`pool ${db}:`, e.message));
    p.on('connect', (client) => client.on('error', (e) => console.error(`client ${db}:`, e.message)));
    pools.push(p);
    return p;
  };
  try {
    await server.createDatabase('bench_pgboss');
    await server.createDatabase('bench_graphile');
    const boss = pgBoss(server.url('bench_pgboss'), pool('bench_pgboss', producers), workers + 2);
    const graphile = graphileWorker(pool('bench_graphile', producers), pool('bench_graphile', workers + 1));
    try {
      console.log(
        `node ${process.version}, PostgreSQL on 127.0.0.1 (fsync off), load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      // JOBS_FIRST=graphile-worker measures graphile-worker first, to see how much the order matters.
      const graphileFirst = process.env.JOBS_FIRST === 'graphile-worker';
      console.log(`measured first: ${graphileFirst ? 'graphile-worker' : 'pg-boss'}`);
      const g0 = graphileFirst ? await measure(graphile, pools[1] as pg.Pool) : undefined;
      const b = await measure(boss, pools[0] as pg.Pool);
      const g = g0 ?? (await measure(graphile, pools[1] as pg.Pool));
      print(b, g);
      console.log(
        `load average at the end ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
    } finally {
      await boss.close();
      await graphile.close();
    }
  } finally {
    for (const p of pools) await p.end();
    await server.stop();
    await rm(parent, { recursive: true, force: true });
  }
}

await main();
