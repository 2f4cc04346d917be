// Issue 14, webhook delivery: sustained deliveries/s and event → delivered latency through the whole pipeline of
// @headroom/core/webhooks (publish in a statement of its own → outbox row and fan-out job → one delivery and its
// job per endpoint → a signed POST → the attempt recorded), on a PostgreSQL of this script's own, the workers in
// this process, the receiver in a child process (bench/servers/webhook-sink.ts, answering 204 at once).
//
//   npm run bench:webhooks
//   BENCH_RATE=150 BENCH_SECONDS=20 BENCH_WEBHOOK_CONCURRENCY=64 npm run bench:webhooks
//   BENCH_SAMPLE=1 npm run bench:webhooks     (also: what PostgreSQL is busy with, from pg_stat_activity)
//
// (a) all healthy: BENCH_ENDPOINTS (10) endpoints of one tenant, each subscribed; events published at BENCH_RATE
//     (100/s, so 1,000 deliveries/s) for BENCH_SECONDS (15), open model (a timer schedule, bounded in count);
//     deliveries/s over the run after a 2 s warm-up, event → delivered p50 / p95 / p99 (the `latencyMs` of each
//     attempt: the event's time in its transaction to the attempt recorded, on the same clock). Goals: ≥ 1,000/s,
//     p99 ≤ 500 ms (seed 001: 50/s, 99% within 5 s).
// (b) one of the ten endpoints hangs (never answers; BENCH_WEBHOOK_TIMEOUT, 2 s, ends each attempt): the other
//     nine's p99 against (a)'s, goal within 20%; the hung endpoint's attempts (its cap of 4 in flight and its
//     breaker keep it from holding the workers).
// Peer, in the same run: "undici direct": as many signed POSTs of the same body to the same receiver, straight
// from a loop with the same number in flight, no queue and no database. Ours ÷ it is the cost of durability.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '@headroom/dev-servers/postgres';
import pg from 'pg';
import { Agent, request } from 'undici';
import { systemClock } from '../packages/core/src/clock/index.ts';
import { createJobs, jobsSchemaSql } from '../packages/core/src/jobs/index.ts';
import {
  createWebhooks,
  generateWebhookSecret,
  type WebhookAttemptEvent,
  webhookHeaders,
  webhooksSchemaSql,
} from '../packages/core/src/webhooks/index.ts';
import { startNode } from './lib/process.ts';

const rate = Number(process.env.BENCH_RATE ?? 100);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const endpoints = Number(process.env.BENCH_ENDPOINTS ?? 10);
const concurrency = Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 64);
const timeout = Number(process.env.BENCH_WEBHOOK_TIMEOUT ?? 2_000);
const warmUpMs = 2_000;
const goals = { perSecond: 1_000, p99: 500, ratio: 1.2 };
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)]!;
}

const dir = await mkdtemp(join(tmpdir(), 'headroom-bench-webhooks-'));
await chmod(dir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
const server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
const sink = await startNode(join(import.meta.dirname, 'servers', 'webhook-sink.ts'), {
  ready: /listening on (http:\/\/\S+)/,
});
const sinkUrl = sink.match!;
const sinkHost = new URL(sinkUrl).host;
let pool: pg.Pool | undefined;
try {
  await server.createDatabase('bench');
  pool = new pg.Pool({ connectionString: server.url('bench'), max: 16 });
  await pool.query(jobsSchemaSql() + webhooksSchemaSql());
  const clock = systemClock();
  const jobs = createJobs({
    db: pool,
    clock,
    listen: async () => {
      const client = new pg.Client({ connectionString: server.url('bench') });
      await client.connect();
      return client;
    },
  });
  const webhooks = createWebhooks({ jobs, clock, allowedHosts: [sinkHost], timeout });
  const attempts: (WebhookAttemptEvent & { at: number })[] = [];
  webhooks.onAttempt((e) => attempts.push({ ...e, at: performance.now() }));
  webhooks.work({ concurrency, pollInterval: 1_000 });
  console.log(
    `webhooks bench (issue 14): ${endpoints} endpoints, ${rate} events/s for ${seconds} s (${rate * endpoints} deliveries/s offered), ${concurrency} attempts in flight at most, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );

  /** Publishes `rate` events/s for `seconds` to `tenant`'s endpoints; resolves with the publish window. */
  const publish = async (tenant: string, rate: number, seconds: number) => {
    const total = Math.round(rate * seconds);
    const start = performance.now();
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sent.push(
        webhooks.publish(pool!, { tenant, type: 'case.created', data: { id: i, title: `Bench case ${i}` } }),
      );
    }
    await Promise.all(sent);
    return { start, end: performance.now(), total };
  };

  /** Waits (at most 60 s) until the tenant's deliveries to `paths` are all delivered. */
  const drain = async (tenant: string, expected: number, healthy: (e: WebhookAttemptEvent) => boolean) => {
    for (let i = 0; i < 600; i++) {
      if (
        attempts.filter((e) => e.tenant === tenant && e.result === 'delivered' && healthy(e)).length >=
        expected
      )
        return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  };

  const stage = async (label: string, hung: boolean, stageRate = rate, stageSeconds = seconds) => {
    const tenant = label === 'warm-up' ? 'warm-up' : hung ? 'one-hung' : 'all-healthy';
    const ids: string[] = [];
    for (let e = 0; e < endpoints; e++) {
      const path = hung && e === endpoints - 1 ? '/hang' : `/ok-${e}`;
      const { endpoint } = await webhooks.createEndpoint({
        tenant,
        url: `${sinkUrl}${path}?tenant=${tenant}`,
        events: ['case.created'],
      });
      ids.push(endpoint.id);
    }
    const hungId = hung ? ids.at(-1) : undefined;
    const healthy = (e: WebhookAttemptEvent) => e.endpointId !== hungId;
    const window = await publish(tenant, stageRate, stageSeconds);
    const expected = window.total * (hung ? endpoints - 1 : endpoints);
    const drained = await drain(tenant, expected, healthy);
    const delivered = attempts.filter((e) => e.tenant === tenant && e.result === 'delivered' && healthy(e));
    const inRun = delivered.filter((e) => e.at >= window.start + warmUpMs && e.at <= window.end);
    const perSecond = inRun.length / ((window.end - window.start - warmUpMs) / 1000);
    const latencies = delivered
      .filter((e) => e.at >= window.start + warmUpMs)
      .map((e) => e.latencyMs ?? Number.NaN);
    const hungAttempts = hungId ? attempts.filter((e) => e.endpointId === hungId).length : 0;
    const failed = attempts.filter(
      (e) => e.tenant === tenant && healthy(e) && e.result !== 'delivered',
    ).length;
    return {
      label,
      published: window.total,
      delivered: delivered.length,
      expected,
      drained,
      perSecond,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
      failed,
      hungAttempts,
    };
  };

  // BENCH_SAMPLE=1: which statements PostgreSQL is busy with, sampled from pg_stat_activity every 20 ms.
  const samples = new Map<string, number>();
  let sampling = process.env.BENCH_SAMPLE === '1';
  const sampler = (async () => {
    const probe = new pg.Client({ connectionString: server.url('bench') });
    if (sampling) await probe.connect();
    while (sampling) {
      const { rows } = await probe.query(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q, wait_event_type AS w FROM pg_stat_activity
         WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = 'bench'`,
      );
      for (const row of rows)
        samples.set(`${row.w ?? 'cpu'} ${row.q}`, (samples.get(`${row.w ?? 'cpu'} ${row.q}`) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (process.env.BENCH_SAMPLE === '1') await probe.end();
  })();
  // Warm-up, not reported: JIT, connection pools, the queue's first fetches.
  await stage('warm-up', false, Math.max(1, Math.round(rate / 4)), 3);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const a = await stage('(a) all healthy', false);
  const cpu = process.cpuUsage(cpu0);
  const cores = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
  sampling = false;
  await sampler;
  if (samples.size > 0) console.log('PostgreSQL busy with (samples, wait, statement):');
  for (const [q, n] of [...samples].sort((x, y) => y[1] - x[1]).slice(0, 12)) console.log(`${n}\t${q}`);
  const b = await stage(`(b) 1 of ${endpoints} hangs (${timeout} ms limit)`, true);

  // The peer: the same number of signed POSTs, `concurrency` in flight, straight to the receiver.
  const secret = generateWebhookSecret();
  const body = JSON.stringify({
    type: 'case.created',
    timestamp: new Date().toISOString(),
    data: { id: 1, title: 'Bench case 1' },
  });
  const agent = new Agent({ connections: concurrency });
  const posts = a.expected;
  let next = 0;
  const peerStart = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < posts) {
        const i = next++;
        const headers = webhookHeaders({
          id: `msg_${i}`,
          timestamp: Math.floor(Date.now() / 1000),
          body,
          secrets: [secret],
        });
        const answer = await request(`${sinkUrl}/peer`, {
          method: 'POST',
          body,
          headers: { ...headers, 'content-type': 'application/json' },
          dispatcher: agent,
        });
        await answer.body.dump();
      }
    }),
  );
  const peerPerSecond = posts / ((performance.now() - peerStart) / 1000);
  await agent.close();

  console.log(
    '| run | events | delivered / expected | drained | delivered/s | p50 ms | p95 ms | p99 ms | max ms | failed attempts | hung endpoint attempts |',
  );
  console.log('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of [a, b]) {
    console.log(
      `| ${r.label} | ${r.published} | ${r.delivered} / ${r.expected} | ${r.drained ? 'yes' : 'NO'} | ${fmt(r.perSecond, 0)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.failed} | ${r.hungAttempts} |`,
    );
  }
  console.log(
    `| peer: undici direct, ${concurrency} in flight | - | ${posts} POSTs | - | ${fmt(peerPerSecond, 0)} | - | - | - | - | - | - |`,
  );
  const ratio = b.p99 / a.p99;
  console.log('');
  console.log(
    `deliveries/s ${fmt(a.perSecond, 0)} (goal ≥ ${goals.perSecond}) ${a.perSecond >= goals.perSecond * 0.98 ? 'met' : 'NOT met'}; offered ${rate * endpoints}/s`,
  );
  console.log(
    `event → delivered p99 ${fmt(a.p99)} ms (goal ≤ ${goals.p99} ms) ${a.p99 <= goals.p99 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `one endpoint hung: the other nine's p99 ${fmt(b.p99)} ms = ${fmt(ratio, 2)} × the healthy run's (goal ≤ ${goals.ratio}) ${ratio <= goals.ratio ? 'met' : 'NOT met'}`,
  );
  console.log(
    `ours ÷ undici direct (the cost of a durable, recorded, retried delivery): ${fmt(a.perSecond / peerPerSecond, 2)}`,
  );
  console.log(
    `this process (publisher and workers) used ${fmt(cores, 2)} cores during (a); PostgreSQL most of the rest`,
  );
  await webhooks.stop(2_000);
  await jobs.stop(2_000);
} finally {
  await pool?.end();
  await sink.stop();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
