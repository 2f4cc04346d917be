// Webhook delivery through the whole pipeline of @headroom/core/webhooks, on a PostgreSQL of this script's own:
// publish (publish_webhook: the outbox row and a fan-out job, one statement through a pg Pool) → fan-out job (a
// delivery row and job per subscribed endpoint) → delivery job (a POST signed per Standard Webhooks, the attempt
// recorded) → onAttempt `delivered`. The webhook workers run in a child process (bench/servers/webhook-workers.ts),
// the receiver in another (bench/servers/webhook-sink.ts: 204 at once, /hang never answers), the publisher here,
// so on a 2-core machine none of them runs on another's event loop. Real time: systemClock() everywhere.
//
//   npm run bench:webhooks
//   BENCH_WEBHOOK_CONCURRENCY=16 BENCH_SECONDS=20 npm run bench:webhooks
//     BENCH_WEBHOOK_RATE         events/s published, open model (100; × 10 endpoints = 1,000 deliveries/s)
//     BENCH_ENDPOINTS            endpoints of each tenant, each subscribed to case.created (10)
//     BENCH_SECONDS              seconds of publishing in (a) and (b) (15; the first 2 s are not judged)
//     BENCH_WEBHOOK_CONCURRENCY  `webhooks.work({ concurrency })`, attempts in flight (64, the library's default)
//     BENCH_WEBHOOK_POOL         connections of the workers' pg Pool (16; casebook's pool has 20 for everything)
//     BENCH_WEBHOOK_TIMEOUT      the webhooks `timeout` option, ms (2,000)
//     BENCH_BACKLOG_EVENTS       events in (c)'s backlog (600, so 6,000 deliveries)
//     BENCH_WEBHOOK_PROFILE=1    also PostgreSQL's time by statement (pg_stat_statements, nested statements too)
//
// Warm-up first, from cold, not judged: half the rate for 4 s to endpoints of its own; what it delivered each second
// is printed (a cold start delivers far less in its first seconds).
// (a) all healthy: events published on a timer schedule (each at its time whatever the earlier ones did; at most
//     500 publishes in flight, later arrivals dropped and counted). Deliveries/s over the publishing window after
//     its first 2 s; event → delivered p50 / p95 / p99 / max of the events published after those 2 s, from each
//     attempt's `latencyMs` (the publisher's clock at publish to the worker's when the attempt is recorded: both
//     systemClock(), one machine); failed attempts; the backlog when publishing ends (deliveries owed: pending, or
//     their event not yet fanned out), then a bounded wait (30 s) for it to drain. Goals: ≥ 1,000 deliveries/s (met
//     when 99% of the 1,000/s offered is delivered in the window and the backlog drains), p99 ≤ 500 ms; the seed's
//     50 events/s with 99% delivered within 5 s.
// (b) the same load, one endpoint's path never answers (held open; `timeout` ends each attempt): the others'
//     delivered/s and p99, that p99 ÷ (a)'s (goal ≤ 1.2), the stuck endpoint's attempts and the most of them in
//     flight at once (its cap, `endpointConcurrency`, is 4; its breaker postpones the rest).
// (c) capacity: both queues paused, BENCH_BACKLOG_EVENTS published, both resumed; deliveries/s from the resume to
//     the last delivery.
// Peer, in the same run: "undici direct": as many POSTs as (a) delivered, of a delivery's body, each signed, to the
// same receiver, from a loop keeping BENCH_WEBHOOK_CONCURRENCY in flight with undici `request`, no queue and no
// database. (c) ÷ it is the cost of a durable, recorded, retried delivery (reported, no goal).
// Each stage prints the CPU each process used and what the rest of the machine used meanwhile: figures taken while
// something else was busy are not this code's.

import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres } from '@headroom/dev-servers/postgres';
import type * as hdr from 'hdr-histogram-js';
import pg from 'pg';
import { Agent, request } from 'undici';
import { systemClock } from '../packages/core/src/clock/index.ts';
import { createJobs, jobsSchemaSql } from '../packages/core/src/jobs/index.ts';
import {
  createWebhooks,
  generateWebhookSecret,
  webhookDeliveriesQueue,
  webhookEventsQueue,
  webhookHeaders,
  webhooksSchemaSql,
} from '../packages/core/src/webhooks/index.ts';
import { histogram, percentileMs } from './lib/histogram.ts';
import { startNode, treeCpuSeconds } from './lib/process.ts';
import type { AttemptRow, StatementStats, WorkersMessage } from './servers/webhook-workers.ts';

const rate = Number(process.env.BENCH_WEBHOOK_RATE ?? 100);
const endpoints = Number(process.env.BENCH_ENDPOINTS ?? 10);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const concurrency = Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 64);
const poolSize = Number(process.env.BENCH_WEBHOOK_POOL ?? 16);
const timeout = Number(process.env.BENCH_WEBHOOK_TIMEOUT ?? 2_000);
const backlogEvents = Number(process.env.BENCH_BACKLOG_EVENTS ?? 600);
const profile = process.env.BENCH_WEBHOOK_PROFILE === '1';
const warmUpMs = 2_000;
const warmSeconds = 4;
const drainLimitMs = 30_000;
const maxInflight = 500;
const goals = { perSecond: 1_000, kept: 0.99, p99: 500, ratio: 1.2, seedRate: 50, seedP99: 5_000 };
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const us = (ms: number) => Math.max(1, Math.round(ms * 1000));
/** Endpoints are reached by this name, which the resolver maps to the loopback receiver (`allowedHosts`). */
const hookHost = 'hooks.test';
const resolver = async () => [{ address: '127.0.0.1', family: 4 as const }];

interface Workers {
  child: ChildProcess;
  attempts: AttemptRow[];
  statements(): Promise<StatementStats>;
  stop(): Promise<void>;
}

async function startWorkers(env: Record<string, string>): Promise<Workers> {
  const child = fork(join(import.meta.dirname, 'servers', 'webhook-workers.ts'), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const attempts: AttemptRow[] = [];
  const waiting = new Map<string, (message: WorkersMessage) => void>();
  child.on('message', (message: WorkersMessage) => {
    if (message.type === 'attempts') for (const row of message.rows!) attempts.push(row);
    else waiting.get(message.type)?.(message);
  });
  const reply = (type: string, ms: number) =>
    new Promise<WorkersMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the workers' process sent no ${type} in ${ms} ms`)),
        ms,
      );
      waiting.set(type, (message) => {
        clearTimeout(timer);
        waiting.delete(type);
        resolve(message);
      });
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await Promise.race([
    reply('ready', 30_000),
    exited.then(() => Promise.reject(new Error("the workers' process exited before it was ready"))),
  ]);
  return {
    child,
    attempts,
    async statements() {
      const answer = reply('stats', 5_000);
      child.send({ type: 'stats' });
      return (await answer).statements!;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const stopped = reply('stopped', 10_000).catch(() => undefined);
      child.send({ type: 'stop' });
      await stopped;
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

/** Linux: CPU seconds the whole machine has spent busy, from /proc/stat; NaN elsewhere. */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return (fields.reduce((sum, n) => sum + n, 0) - idle) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** Waits until `check` holds, at most `limitMs`; true when it held. */
async function waitFor(check: () => Promise<boolean>, limitMs: number, everyMs = 100): Promise<boolean> {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

/** The most attempts in flight at once, from each attempt's end and duration. */
function mostInFlight(rows: AttemptRow[]): number {
  const edges = rows.flatMap((r) => [
    [r[3] - r[5], 1],
    [r[3], -1],
  ]);
  edges.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  let open = 0;
  let most = 0;
  for (const [, step] of edges) {
    open += step!;
    most = Math.max(most, open);
  }
  return most;
}

async function bench(dir: string): Promise<void> {
  await chmod(dir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
  let server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
  if (profile) {
    // pg_stat_statements is loaded at start only; nested statements too (fetch_jobs' and add_job's own).
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.track_planning = on`);
    await admin.end();
    await server.stop();
    server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
  }
  const receiver = await startNode(join(import.meta.dirname, 'servers', 'webhook-sink.ts'), {
    ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/,
  });
  const port = receiver.match!;
  const hook = (path: string) => `http://${hookHost}:${port}${path}`;
  const pool = new pg.Pool({ connectionString: server.url('postgres'), max: 8 });
  let workers: Workers | undefined;
  try {
    await pool.query(jobsSchemaSql() + webhooksSchemaSql());
    if (profile) await pool.query('CREATE EXTENSION pg_stat_statements');
    workers = await startWorkers({
      BENCH_DATABASE_URL: server.url('postgres'),
      BENCH_WEBHOOK_HOST: `${hookHost}:${port}`,
      BENCH_WEBHOOK_CONCURRENCY: String(concurrency),
      BENCH_WEBHOOK_POOL: String(poolSize),
      BENCH_WEBHOOK_TIMEOUT: String(timeout),
    });
    const { attempts } = workers;
    const clock = systemClock();
    // The publishing side: no workers here; publish, endpoints and the queues' switches.
    const jobs = createJobs({ db: pool, clock });
    const webhooks = createWebhooks({
      jobs,
      clock,
      resolver,
      allowedHosts: [`${hookHost}:${port}`],
      timeout,
    });
    const postgresPid = Number(
      (await readFile(join(server.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    const workersPid = workers.child.pid!;
    const cpu = () => ({
      at: performance.now(),
      machine: machineBusySeconds(),
      bench: process.cpuUsage(),
      workers: treeCpuSeconds(workersPid) ?? Number.NaN,
      receiver: treeCpuSeconds(receiver.child.pid!) ?? Number.NaN,
      postgres: treeCpuSeconds(postgresPid) ?? Number.NaN,
    });
    const cores = (from: ReturnType<typeof cpu>, to: ReturnType<typeof cpu>) => {
      const s = (to.at - from.at) / 1000;
      const part = (name: 'workers' | 'receiver' | 'postgres') => (to[name] - from[name]) / s;
      const bench = (to.bench.user + to.bench.system - from.bench.user - from.bench.system) / 1e6 / s;
      const ours = part('postgres') + part('workers') + part('receiver') + bench;
      const others = Math.max(0, (to.machine - from.machine) / s - ours);
      return `CPU in cores: postgres ${fmt(part('postgres'), 2)}, workers ${fmt(part('workers'), 2)}, publisher ${fmt(bench, 2)}, receiver ${fmt(part('receiver'), 2)}; other processes on the machine ${fmt(others, 2)} (of ${availableParallelism()})`;
    };
    const received = async () =>
      (await (await request(`http://127.0.0.1:${port}/counts`)).body.json()) as Record<string, number>;
    const data = (i: number) => ({
      id: i,
      tenant_id: 1,
      title: `Bench case ${i}`,
      status: 'open',
      priority: 'low',
      created_at: new Date(1_733_000_000_000 + i * 1000).toISOString(),
    });
    console.log(
      `webhooks bench: ${endpoints} endpoints, ${rate} events/s for ${seconds} s (${rate * endpoints} deliveries/s offered), concurrency ${concurrency}, workers' pool ${poolSize}, timeout ${timeout} ms, node ${process.version}, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );

    const createEndpoints = async (tenant: string, stuck: boolean) => {
      const ids: string[] = [];
      for (let e = 0; e < endpoints; e++) {
        const path = stuck && e === endpoints - 1 ? `/hang/${tenant}` : `/ok/${tenant}/${e}`;
        const { endpoint } = await webhooks.createEndpoint({
          tenant,
          url: hook(path),
          events: ['case.created'],
        });
        ids.push(endpoint.id);
      }
      return ids;
    };

    /** `perSecond` events/s for `duration` s to `tenant`, each at its time; the window's wall times. */
    const publishOpen = async (tenant: string, perSecond: number, duration: number) => {
      const total = Math.round(perSecond * duration);
      const publishMs = histogram();
      let inflight = 0;
      let dropped = 0;
      let errors = 0;
      const t0 = performance.now() + 20;
      const start = Date.now() + 20;
      for (let i = 0; i < total; i++) {
        const wait = t0 + (i * 1000) / perSecond - performance.now();
        if (wait > 0) await sleep(wait);
        if (inflight >= maxInflight) {
          dropped++;
          continue;
        }
        inflight++;
        const sent = performance.now();
        webhooks.publish(pool, { tenant, type: 'case.created', data: data(i) }).then(
          () => {
            publishMs.recordValue(us(performance.now() - sent));
            inflight--;
          },
          () => {
            errors++;
            inflight--;
          },
        );
      }
      const end = Date.now();
      await waitFor(async () => inflight === 0, 10_000, 5);
      return { published: total - dropped - errors, dropped, errors, publishMs, start, end };
    };

    /**
     * Deliveries still owed to `tenant`'s endpoints but `skip` (pending, or their event not yet fanned out): counted
     * from the attempts reported, so that waiting for a drain puts no load on PostgreSQL.
     */
    const backlog = (tenant: string, skip: string[], published: number) =>
      published * (endpoints - skip.length) -
      attempts.filter((x) => x[0] === tenant && x[2] === 'delivered' && !skip.includes(x[1])).length;

    const stage = async (label: string, tenant: string, stuck: boolean) => {
      const ids = await createEndpoints(tenant, stuck);
      const skip = stuck ? [ids.at(-1)!] : [];
      const before = cpu();
      const run = await publishOpen(tenant, rate, seconds);
      const usage = cores(before, cpu());
      const left = backlog(tenant, skip, run.published);
      const drainStart = performance.now();
      const drained = await waitFor(async () => backlog(tenant, skip, run.published) <= 0, drainLimitMs);
      const drainMs = performance.now() - drainStart;
      const leftAfter = backlog(tenant, skip, run.published);
      const mine = attempts.filter((x) => x[0] === tenant);
      const healthy = mine.filter((x) => !skip.includes(x[1]));
      const delivered = healthy.filter((x) => x[2] === 'delivered');
      const inWindow = delivered.filter((x) => x[3] >= run.start + warmUpMs && x[3] <= run.end).length;
      const latency = histogram();
      // By endpoint too: a queue that serves one endpoint before another shows as a spread of their p99s.
      const byEndpoint = new Map<string, hdr.Histogram>();
      const bySecond: number[] = [];
      for (const x of delivered) {
        const second = Math.floor((x[3] - run.start) / 1000);
        bySecond[second] = (bySecond[second] ?? 0) + 1;
        if (x[3] - x[4] < run.start + warmUpMs) continue; // published in the stage's first 2 s
        latency.recordValue(us(x[4]));
        const h = byEndpoint.get(x[1]) ?? histogram();
        byEndpoint.set(x[1], h);
        h.recordValue(us(x[4]));
      }
      const endpointP99 = [...byEndpoint.values()].map((h) => percentileMs(h, 99));
      const stuckRows = mine.filter((x) => skip.includes(x[1]));
      return {
        label,
        ...run,
        publishP99: percentileMs(run.publishMs, 99),
        expected: run.published * (endpoints - skip.length),
        delivered: delivered.length,
        offered: rate * (endpoints - skip.length),
        perSecond: inWindow / ((run.end - run.start - warmUpMs) / 1000),
        latency,
        bySecond: Array.from(bySecond, (n) => n ?? 0),
        endpointP99: { min: Math.min(...endpointP99), max: Math.max(...endpointP99) },
        failed: healthy.length - delivered.length,
        left,
        drained,
        drainMs,
        leftAfter,
        stuckId: skip[0],
        stuckAttempts: stuckRows.length,
        stuckInFlight: mostInFlight(stuckRows),
        stuckReceived: stuck ? ((await received())[`/hang/${tenant}`] ?? 0) : 0,
        usage,
      };
    };

    // Warm-up, not judged: from cold (new connections, PostgreSQL's caches per connection, an empty queue table)
    // the first seconds deliver far less; what they delivered is printed.
    await createEndpoints('warm-up', false);
    const warm = await publishOpen('warm-up', Math.ceil(rate / 2), warmSeconds);
    await waitFor(async () => backlog('warm-up', [], warm.published) <= 0, drainLimitMs);
    const warmBySecond: number[] = [];
    for (const x of attempts) {
      if (x[0] !== 'warm-up' || x[2] !== 'delivered') continue;
      const second = Math.floor((x[3] - warm.start) / 1000);
      warmBySecond[second] = (warmBySecond[second] ?? 0) + 1;
    }

    const a = await stage('(a) all healthy', 'healthy', false);
    const b = await stage(`(b) 1 of ${endpoints} never answers`, 'one-stuck', true);
    // Its retries and breaker probes would run on into (c): its deliveries go with it.
    if (b.stuckId) await webhooks.deleteEndpoint('one-stuck', b.stuckId);

    // (c) capacity: a backlog, drained with nothing else arriving.
    await createEndpoints('backlog', false);
    await jobs.pause(webhookEventsQueue);
    await jobs.pause(webhookDeliveriesQueue);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < backlogEvents) {
          await webhooks.publish(pool, { tenant: 'backlog', type: 'case.created', data: data(next++) });
        }
      }),
    );
    const beforeC = cpu();
    const resumed = Date.now();
    await jobs.resume(webhookEventsQueue);
    await jobs.resume(webhookDeliveriesQueue);
    const backlogDeliveries = backlogEvents * endpoints;
    const deliveredC = () => attempts.filter((x) => x[0] === 'backlog' && x[2] === 'delivered');
    const drainedC = await waitFor(async () => deliveredC().length >= backlogDeliveries, drainLimitMs);
    const usageC = cores(beforeC, cpu());
    const doneC = deliveredC();
    const capacity = doneC.length / ((Math.max(...doneC.map((x) => x[3])) - resumed) / 1000);
    const statements = await workers.statements();
    const allDelivered = attempts.filter((x) => x[2] === 'delivered').length;

    // The peer: as many POSTs of a delivery's body, each signed, `concurrency` in flight, no queue, no database.
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ type: 'case.created', timestamp: new Date().toISOString(), data: data(1) });
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    const posts = Math.max(1, a.delivered);
    let sent = 0;
    let peerFailed = 0;
    const peerStart = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (sent < posts) {
          const id = `msg_peer_${sent++}`;
          const headers = webhookHeaders({
            id,
            timestamp: Math.floor(Date.now() / 1000),
            body,
            secrets: [secret],
          });
          const answer = await request(`http://127.0.0.1:${port}/peer`, {
            method: 'POST',
            body,
            headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'headroom-webhooks/1' },
            dispatcher: agent,
          });
          await answer.body.dump();
          if (answer.statusCode !== 204) peerFailed++;
        }
      }),
    );
    const peerPerSecond = posts / ((performance.now() - peerStart) / 1000);
    await agent.close();

    const p = (h: hdr.Histogram, q: number) => fmt(percentileMs(h, q));
    console.log(
      '| run | events | delivered / expected | delivered/s (offered) | p50 ms | p95 ms | p99 ms | max ms | failed attempts | backlog at end → after drain |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const r of [a, b]) {
      const lost = r.dropped + r.errors > 0 ? ` (${r.dropped} dropped, ${r.errors} failed)` : '';
      const drain = r.drained
        ? `drained in ${fmt(r.drainMs / 1000)} s`
        : `${r.leftAfter} left after ${drainLimitMs / 1000} s`;
      console.log(
        `| ${r.label} | ${r.published}${lost} | ${r.delivered} / ${r.expected} | ${fmt(r.perSecond, 0)} (${r.offered}) | ${p(r.latency, 50)} | ${p(r.latency, 95)} | ${p(r.latency, 99)} | ${p(r.latency, 100)} | ${r.failed} | ${r.left} (${drain}) |`,
      );
    }
    console.log(
      `| (c) backlog of ${backlogEvents} events, queues resumed | ${backlogEvents} | ${doneC.length} / ${backlogDeliveries} | ${fmt(capacity, 0)} (capacity) | - | - | - | - | - | ${drainedC ? 'drained' : `NOT drained in ${drainLimitMs / 1000} s`} |`,
    );
    console.log(
      `| peer: undici direct, ${concurrency} in flight | - | ${posts - peerFailed} / ${posts} POSTs | ${fmt(peerPerSecond, 0)} | - | - | - | - | ${peerFailed} | - |`,
    );
    console.log('');
    console.log(
      `warm-up (not judged): ${warm.published} events at ${Math.ceil(rate / 2)}/s; delivered by second from the first publish: ${Array.from(warmBySecond, (n) => n ?? 0).join(' ')}`,
    );
    console.log(`(a) ${a.usage}; publish p99 ${fmt(a.publishP99)} ms`);
    console.log(`(b) ${b.usage}`);
    console.log(`(c) ${usageC}`);
    for (const [name, r] of [
      ['a', a],
      ['b', b],
    ] as const) {
      console.log(
        `(${name}) delivered by second from the first publish: ${r.bySecond.join(' ')}; p99 by endpoint ${fmt(r.endpointP99.min)} to ${fmt(r.endpointP99.max)} ms`,
      );
    }
    console.log(
      `(b) the stuck endpoint: ${b.stuckAttempts} attempts recorded, ${b.stuckReceived} received, at most ${b.stuckInFlight} in flight at once`,
    );
    const perDelivery = Object.entries(statements)
      .sort((x, y) => y[1].n - x[1].n)
      .map(([kind, s]) => `${kind} ${fmt(s.n / allDelivered, 2)} (${fmt(s.ms / s.n)} ms)`)
      .join(', ');
    console.log(
      `workers' statements per delivery (${allDelivered} delivered, ${attempts.length} attempts; mean ms from call to answer): ${perDelivery}`,
    );
    if (profile) {
      const { rows } = await pool.query(
        `SELECT calls, total_exec_time + total_plan_time AS total, mean_exec_time + mean_plan_time AS mean,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS q
         FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 14`,
      );
      console.log(
        'PostgreSQL time by statement, planning included, nested ones too (calls and ms per delivery, ms per call):',
      );
      for (const row of rows) {
        console.log(
          `  ${fmt(Number(row.calls) / allDelivered, 3)} × ${fmt(Number(row.mean), 3)} = ${fmt(Number(row.total) / allDelivered, 3)} ms  ${row.q}`,
        );
      }
    }

    console.log('');
    const keptUp = a.perSecond >= a.offered * goals.kept && a.drained;
    console.log(
      `deliveries/s: ${fmt(a.perSecond, 0)} of ${a.offered} offered, backlog ${a.drained ? 'drained' : 'NOT drained'}, capacity ${fmt(capacity, 0)}/s (goal ≥ ${goals.perSecond}) ${keptUp && a.offered >= goals.perSecond ? 'met' : 'NOT met'}`,
    );
    const p99a = percentileMs(a.latency, 99);
    console.log(
      `event → delivered p99 ${fmt(p99a)} ms (goal ≤ ${goals.p99} ms) ${p99a <= goals.p99 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `seed: ${goals.seedRate} events/s, 99% delivered within ${goals.seedP99 / 1000} s: ${rate >= goals.seedRate && p99a <= goals.seedP99 && keptUp ? 'met' : 'NOT met'}`,
    );
    const ratio = percentileMs(b.latency, 99) / p99a;
    console.log(
      `one endpoint stuck: the others' p99 ${fmt(percentileMs(b.latency, 99))} ms at ${fmt(b.perSecond, 0)}/s = ${fmt(ratio, 2)}× (a)'s (goal ≤ ${goals.ratio}) ${ratio <= goals.ratio ? 'met' : 'NOT met'}${keptUp ? '' : '; (a) did not keep up, so this compares two backlogs'}`,
    );
    console.log(
      `ours ÷ undici direct: ${fmt(capacity / peerPerSecond, 2)} (capacity ${fmt(capacity, 0)}/s ÷ ${fmt(peerPerSecond, 0)} POSTs/s: the cost of durability, no goal)`,
    );
  } finally {
    await workers?.stop();
    await pool.end();
    await receiver.stop();
    await server.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'headroom-bench-webhooks-'));
try {
  await bench(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
