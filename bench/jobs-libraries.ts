// Job queues on PostgreSQL side by side, on one embedded PostgreSQL, in the same run: Headroom's own
// (@headroom/core/jobs) against graphile-worker for the issue's goals, and pg-boss against graphile-worker for
// the figures the jobs module was chosen by (docs/jobs-choice.md).
//
//   npm run bench:jobs-libraries
//     JOBS_CONTENDERS  queues to compare, in table order, among headroom, graphile-worker, pg-boss; default
//                      headroom,graphile-worker. Ratios are the first ÷ each other one.
//     JOBS_FIRST       one of them to measure first (default: measured in JOBS_CONTENDERS order)
//     JOBS_N           trivial jobs for throughput, default 10 000
//     JOBS_WORKERS     workers (concurrency) for (a) and (b), default 24, graphile-worker's published setting
//     JOBS_RATES       arrival rates for (b), default 1000,250 jobs/s
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
//     long does B's job wait, without grouping and with each queue's grouping?
// With headroom and graphile-worker both listed, it ends with the issue's two goals: headroom ÷
// graphile-worker jobs/s (≥ 1.0) and headroom's enqueue → start p50 / p95 / p99 at 1000/s (p95 ≤ 10 ms),
// saying whether the 1000/s arrivals were all sent. Producers, workers and PostgreSQL share this machine;
// the queues run one after the other.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres } from '@headroom/dev-servers/postgres';
import type * as hdr from 'hdr-histogram-js';
import pg from 'pg';
import { histogram, percentileMs } from './lib/histogram.ts';
import { type Contender, graphileWorker, headroomJobs, pgBoss } from './lib/job-queues.ts';

const jobCount = Number(process.env.JOBS_N ?? 10_000);
const workers = Number(process.env.JOBS_WORKERS ?? 24);
const rates = (process.env.JOBS_RATES ?? '1000,250').split(',').map(Number);
const known = ['headroom', 'graphile-worker', 'pg-boss'] as const;
type Name = (typeof known)[number];
const isName = (name: string): name is Name => (known as readonly string[]).includes(name);
const chosen = (process.env.JOBS_CONTENDERS ?? 'headroom,graphile-worker').split(',').map((n) => n.trim());
for (const name of chosen) {
  if (!isName(name)) throw new Error(`JOBS_CONTENDERS: ${name} is not one of ${known.join(', ')}`);
}
if (chosen.length < 2 || new Set(chosen).size !== chosen.length) {
  throw new Error('JOBS_CONTENDERS: name at least two different queues');
}
const names = chosen as Name[];
const first = process.env.JOBS_FIRST;
if (first !== undefined && !names.includes(first as Name)) {
  throw new Error(`JOBS_FIRST: ${first} is not in JOBS_CONTENDERS (${names.join(',')})`);
}
/** Goals of the issue, for headroom against graphile-worker. */
const goals = { ratio: 1.0, rate: 1000, p95: 10 };
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
  grouping: string;
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
  return { name: c.name, notes: c.notes, grouping: c.grouping, thru, lat, tx, fairPlain, fairGrouped };
}

const fmt = (n: number, digits = 0) =>
  Number.isNaN(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function print(results: Result[]) {
  const [a, ...others] = results as [Result, ...Result[]];
  const ratioHeads = others.length === 1 ? ['ratio'] : others.map((o) => `÷ ${o.name}`);
  const rows: string[][] = [];
  const blank = ratioHeads.map(() => '');
  const num = (label: string, pick: (r: Result) => number, digits = 0) => {
    const values = results.map(pick);
    const mine = values[0] ?? Number.NaN;
    rows.push([label, ...values.map((v) => fmt(v, digits)), ...values.slice(1).map((v) => fmt(mine / v, 2))]);
  };
  const text = (label: string, cell: (r: Result) => string) =>
    rows.push([label, ...results.map(cell), ...blank]);
  num(`(a) run, jobs/s (${fmt(jobCount)} trivial, ${workers} workers)`, (r) => r.thru.runRate);
  num('(a) enqueue, jobs/s (one call per job, 16 producers)', (r) => r.thru.enqueueRate);
  for (const [k, rate] of rates.entries()) {
    const at = (r: Result) => r.lat[k] as Latency;
    for (const p of [50, 95, 99, 100]) {
      const label = p === 100 ? 'max' : `p${p}`;
      num(`(b) ${rate}/s: scheduled → start ${label}, ms`, (r) => percentileMs(at(r).h, p), 2);
    }
    for (const p of [50, 95, 99]) {
      num(`(b) ${rate}/s: committed → start p${p}, ms`, (r) => percentileMs(at(r).fromCommit, p), 2);
    }
    num(`(b) ${rate}/s: arrivals sent per second`, (r) => at(r).achievedRate);
    text(`(b) ${rate}/s: started / sent / dropped / errors`, (r) => {
      const l = at(r);
      return `${l.started} / ${l.sent} / ${l.dropped} / ${l.errors}`;
    });
  }
  text('(c) job exists after BEGIN, enqueue, ROLLBACK', (r) => yesNo(r.tx.afterRollback));
  text('(c) visible to others before COMMIT', (r) => yesNo(r.tx.beforeCommit));
  text('(c) job exists after COMMIT', (r) => yesNo(r.tx.afterCommit));
  const wait = (f: Fairness) => (Number.isNaN(f.waitMs) ? `> ${fmt(fairnessLimitMs)}` : fmt(f.waitMs, 1));
  text('(d) B waits, ms, no grouping', (r) => wait(r.fairPlain));
  num('(d) B waits, ms, grouped by tenant (see below)', (r) => r.fairGrouped.waitMs, 1);
  num('(d) A jobs/s, no grouping', (r) => r.fairPlain.heavyRate);
  num('(d) A jobs/s, grouped', (r) => r.fairGrouped.heavyRate);
  const head = ['', ...results.map((r) => r.name), ...ratioHeads];
  const w = head.map((_, k) => Math.max(...[head, ...rows].map((r) => r[k]?.length ?? 0)));
  const line = (r: string[]) =>
    r.map((cell, k) => (k === 0 ? cell.padEnd(w[0] ?? 0) : cell.padStart(w[k] ?? 0))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log(others.length === 1 ? `ratio = ${a.name} ÷ ${others[0]?.name}` : `÷ X = ${a.name} ÷ X`);
  console.log(
    `(d) ${fairnessBacklog} jobs of tenant A queued first, ${fairnessRunMs} ms each, ${fairnessWorkers} workers; grouped = ${results.map((r) => `${r.name} ${r.grouping}`).join(', ')}`,
  );
  for (const r of results) for (const n of r.notes) console.log(`${r.name}: ${n}`);
  headline(results);
}

/** The issue's two goals, when headroom and graphile-worker were both measured. */
function headline(results: Result[]) {
  const ours = results.find((r) => r.name === 'headroom');
  const peer = results.find((r) => r.name === 'graphile-worker');
  if (!ours) return;
  const pass = (good: boolean) => (good ? 'met' : 'NOT met');
  console.log('\ngoals (the issue):');
  if (peer) {
    const ratio = ours.thru.runRate / peer.thru.runRate;
    console.log(
      `  headroom ÷ graphile-worker jobs/s = ${fmt(ratio, 2)} (goal ≥ ${fmt(goals.ratio, 1)}): ${pass(ratio >= goals.ratio)} (${fmt(ours.thru.runRate)} vs ${fmt(peer.thru.runRate)} jobs/s)`,
    );
  }
  const k = rates.indexOf(goals.rate);
  const l = ours.lat[k];
  if (!l) {
    console.log(
      `  headroom enqueue → start at ${goals.rate}/s: not measured (JOBS_RATES has no ${goals.rate})`,
    );
    return;
  }
  const [p50, p95, p99] = [50, 95, 99].map((p) => percentileMs(l.h, p)) as [number, number, number];
  const total = goals.rate * (warmupSeconds + latencySeconds);
  // The paced loop shares the event loop with the workers: it may fall behind (achieved rate below the goal's)
  // or hit its in-flight cap (dropped arrivals); either way the goal's load was not carried.
  const carried = l.dropped === 0 && l.errors === 0 && l.achievedRate >= 0.98 * goals.rate;
  const arrivals = `${fmt(l.sent)} of ${fmt(total)} arrivals sent, ${fmt(l.dropped)} dropped, ${fmt(l.errors)} errors, ${fmt(l.achievedRate)}/s achieved`;
  console.log(
    `  headroom enqueue → start at ${goals.rate}/s: p50 / p95 / p99 = ${fmt(p50, 2)} / ${fmt(p95, 2)} / ${fmt(p99, 2)} ms (goal p95 ≤ ${goals.p95} ms): ${
      carried ? pass(p95 <= goals.p95) : `not judged: the ${goals.rate}/s arrivals were NOT all sent`
    } (${arrivals}; from the scheduled arrival time, so producer lag counts)`,
  );
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
  /** Each queue on a database of its own, with its producer pool (for the transactional check). */
  const make = async (name: Name): Promise<{ c: Contender; producer: pg.Pool }> => {
    const db = `bench_${name.replace('-', '_')}`;
    await server.createDatabase(db);
    const producer = pool(db, producers);
    if (name === 'pg-boss') return { c: pgBoss(server.url(db), producer, workers + 2), producer };
    if (name === 'graphile-worker') return { c: graphileWorker(producer, pool(db, workers + 1)), producer };
    return { c: headroomJobs(server.url(db), producer, pool(db, workers + 1)), producer };
  };
  const made: { c: Contender; producer: pg.Pool }[] = [];
  try {
    for (const name of names) made.push(await make(name));
    console.log(
      `node ${process.version}, PostgreSQL on 127.0.0.1 (fsync off), load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const order = first ? [first, ...names.filter((n) => n !== first)] : names;
    console.log(`measured in this order: ${order.join(', ')}`);
    const results = new Map<string, Result>();
    for (const name of order) {
      const m = made[names.indexOf(name as Name)] as { c: Contender; producer: pg.Pool };
      results.set(name, await measure(m.c, m.producer));
    }
    print(names.map((n) => results.get(n) as Result));
    console.log(
      `load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    for (const m of made) await m.c.close();
    for (const p of pools) await p.end();
    await server.stop();
    await rm(parent, { recursive: true, force: true });
  }
}

await main();
