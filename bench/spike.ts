// The spike drill (scaled to this machine): casebook with its real tier quotas and search bulkhead takes a
// sustainable rate R, then 10 × R, then R again, on the `headroom` CLI's open-model engine. It must stay up,
// answer beyond its limits only with 429 / 503, keep the p99 of admitted requests within 2 × normal, and be back
// to normal within 5 s of the spike's end: the last three are the CLI's spike verdict (judgeSpike), and the
// bench exits 1 when any criterion fails.
//
//   npm run bench:spike
//   BENCH_SPIKE_SECONDS=10 npm run bench:spike   # shorter spike (default 30 s)
//   BENCH_RATE=400 npm run bench:spike           # a fixed R instead of the bisection
//   BENCH_WARM_CONNECTIONS=256 npm run bench:spike  # sockets opened before each run (default 64)
//   BENCH_READ_CACHE=off BENCH_QUOTA_SCALE=10 npm run bench:spike   # searches hit PostgreSQL, quotas × 10
//
// Open model: every request has an intended start; admitted latency counts from it, so generator lag and server
// queueing both show.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Tier } from '../apps/casebook/src/tenancy/tiers.ts';
import { tierQuotas } from '../apps/casebook/src/tenancy/tiers.ts';
import { type RunResult, runScenario } from '../packages/cli/src/engine/run.ts';
import { drillTable } from '../packages/cli/src/gate/drill.ts';
import { judgeSpike } from '../packages/cli/src/gate/spike.ts';
import type { OpenStage, Scenario } from '../packages/cli/src/scenario/scenario.ts';
import { RouteStats } from '../packages/cli/src/stats/route-stats.ts';
import { benchOperatorToken, operatorHeaders, startNode } from './lib/process.ts';

const spikeSeconds = Number(process.env.BENCH_SPIKE_SECONDS ?? 30);
const fixedRate = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
const quotaScale = Number(process.env.BENCH_QUOTA_SCALE ?? 1);
const readCache = process.env.BENCH_READ_CACHE ?? 'on';
const p99GoalMs = 50; // what R must be served within
const connections = 256;
// Opened before each run, as a load balancer keeps warm connections to its backends.
const warmConnections = Number(process.env.BENCH_WARM_CONNECTIONS ?? 64);
const maxInflight = 2_048;
const words = ['fraud', 'payment', 'account', 'device', 'transfer', 'chargeback', 'phishing', 'merchant'];
// Shares chosen so that the enterprise quota binds first: 500/s ÷ 0.92 = 543/s, before globex's 50/s ÷ 0.07
// = 714/s and initech's 10/s ÷ 0.01 = 1000/s (80/15/5 would let the free tier's 10/s cap R at 200/s).
const tenants: { name: string; tier: Tier; share: number }[] = [
  { name: 'acme', tier: 'enterprise', share: 0.92 },
  { name: 'globex', tier: 'pro', share: 0.07 },
  { name: 'initech', tier: 'free', share: 0.01 },
];

const fmt = (n: number, digits = 2) => (Number.isNaN(n) ? '-' : n.toFixed(digits));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/** Every route's cell of `stage`, merged. */
function stageCell(result: RunResult, stage: string): RouteStats {
  const merged = new RouteStats(stage, 'all');
  for (const cell of result.cells) if (cell.stage === stage) merged.merge(cell);
  return merged;
}
const code = (cell: RouteStats, status: number) => cell.codes[status] ?? 0;
const others = (cell: RouteStats) =>
  Object.entries(cell.codes)
    .filter(([c]) => !['200', '429', '503'].includes(c))
    .reduce((a, [, n]) => a + n, 0);

/** What casebook's /metrics says about search: answer durations by status, bulkhead refusals by reason. */
interface SearchMetrics {
  /** Cumulative answer counts per `le` bucket (seconds), by status code. */
  durations: Map<string, Map<string, number>>;
  /** Search bulkhead refusals by reason (full, queue-timeout, evicted). */
  rejected: Map<string, number>;
  /** The server's own garbage-collection pauses (prom-client's nodejs_gc_duration_seconds): by kind, count and over 10 ms. */
  gc: Map<string, { count: number; over10ms: number; seconds: number }>;
}

async function searchMetrics(origin: string): Promise<SearchMetrics> {
  const text = await (await fetch(`${origin}/metrics`, { headers: operatorHeaders })).text();
  const metrics: SearchMetrics = { durations: new Map(), rejected: new Map(), gc: new Map() };
  const gcOf = (kind: string) => {
    const entry = metrics.gc.get(kind) ?? { count: 0, over10ms: 0, seconds: 0 };
    metrics.gc.set(kind, entry);
    return entry;
  };
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (line.startsWith('http_request_duration_seconds_bucket{')) {
      if (labels.route !== '/v1/cases/search' || !labels.code || !labels.le) continue;
      const buckets = metrics.durations.get(labels.code) ?? new Map<string, number>();
      metrics.durations.set(labels.code, buckets);
      buckets.set(labels.le, value);
    } else if (line.startsWith('headroom_concurrency_rejected_total{') && labels.limiter === 'search') {
      metrics.rejected.set(labels.reason ?? '?', value);
    } else if (line.startsWith('nodejs_gc_duration_seconds_bucket{') && labels.kind) {
      // Cumulative: every pause is under +Inf; those under 10 ms are under le="0.01".
      if (labels.le === '+Inf') gcOf(labels.kind).over10ms += value;
      else if (labels.le === '0.01') gcOf(labels.kind).over10ms -= value;
    } else if (line.startsWith('nodejs_gc_duration_seconds_count{') && labels.kind) {
      gcOf(labels.kind).count = value;
    } else if (line.startsWith('nodejs_gc_duration_seconds_sum{') && labels.kind) {
      gcOf(labels.kind).seconds = value;
    }
  }
  return metrics;
}

const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-spike-'));
await chmod(dataDir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
console.log('starting casebook (demo profile, seeded on this first start)...');
const casebook = await startNode(join(import.meta.dirname, '..', 'apps/casebook/src/server.ts'), {
  env: {
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'warn',
    READ_CACHE: readCache,
    QUOTA_SCALE: String(quotaScale),
    OPERATOR_TOKEN: benchOperatorToken,
  },
  ready: /casebook is ready at (http:\/\/\S+)/,
});
const origin = casebook.match!;
let casebookExit: string | undefined;
casebook.child.once('exit', (code, signal) => {
  casebookExit = `exit code ${code}, signal ${signal}`;
});

try {
  const tokens: string[] = [];
  for (const t of tenants) {
    const res = await fetch(`${origin}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `analyst@${t.name}.test`, password: 'headroom-demo' }),
    });
    if (res.status !== 200) throw new Error(`login of ${t.name} answered ${res.status}: ${await res.text()}`);
    tokens.push(((await res.json()) as { token: string }).token);
  }
  // A flow per tenant, weighted by its share; the engine's seeded PRNG picks flows and words the same way on
  // every run. Every answer is expected (checks judge nothing here: the spike verdict does).
  const scenario = (stages: OpenStage[], spike?: Scenario['spike']): Scenario => ({
    name: 'spike',
    target: origin,
    seed: 42,
    model: 'open',
    stages,
    maxInflight,
    timeoutMs: 10_000,
    vars: { words },
    feeds: {},
    setup: [],
    flows: tenants.map((t, i) => ({
      name: t.name,
      weight: t.share,
      steps: [
        {
          method: 'GET',
          path: '/v1/cases/search?q=${pick(vars.words)}&limit=20',
          headers: { authorization: `Bearer ${tokens[i]}` },
        },
      ],
    })),
    judgeThroughput: false,
    checkFailures: 1,
    ...(spike ? { spike } : {}),
  });
  const stage = (name: string, rate: number, seconds: number): OpenStage => ({
    name,
    rate,
    durationMs: seconds * 1000,
    judge: true,
  });
  const run = (s: Scenario) =>
    runScenario(s, { connections, warmConnections, routes: ['GET /v1/cases/search'] });

  // The rate every tenant's quota allows for its share of the mix, with 10% slack for the random split.
  const quotaCeiling = Math.min(
    ...tenants.map((t) => {
      const q = tierQuotas[t.tier];
      return (((q.limit * quotaScale) / q.window) * 1000) / t.share;
    }),
  );
  const ceiling = Math.floor((quotaCeiling * 0.9) / 10) * 10;

  // Warm-up (JIT, plan and read caches), then let the quota buckets refill.
  await run(scenario([stage('warm-up', Math.min(100, ceiling), 3)]));
  await sleep(3_000);

  // R: the highest rate served in full (every answer a 200, no drops) with p99 < 50 ms from intended start,
  // by bisection over (0, ceiling] in 5 s steps with 3 s pauses (so a failed step's quota debt is repaid).
  let rate = fixedRate ?? ceiling;
  if (fixedRate === undefined) {
    console.log(
      `\nfinding R: quotas allow ${fmt(quotaCeiling, 0)} req/s of this mix; trying up to 90% of it (${ceiling} req/s)`,
    );
    console.log('| step | rate /s | achieved /s | 200 | non-200 | dropped | p99 ms | ok |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    let lo = 0;
    let hi = ceiling;
    let probe = ceiling;
    for (let step = 1; step <= 6; step++) {
      const result = await run(scenario([stage('probe', probe, 5)]));
      const [report] = result.stages;
      const cell = stageCell(result, 'probe');
      const p99 = cell.percentileMs(99);
      const ok = report!.dropped === 0 && code(cell, 200) === report!.iterations && p99 < p99GoalMs;
      console.log(
        `| ${step} | ${probe} | ${fmt(report!.achievedRate, 0)} | ${code(cell, 200)} | ${report!.iterations - code(cell, 200)} | ${report!.dropped} | ${fmt(p99)} | ${ok ? 'yes' : 'no'} |`,
      );
      if (ok) lo = probe;
      else hi = probe;
      if (ok && probe === ceiling) break;
      if (hi - lo <= 20) break;
      probe = Math.round((lo + hi) / 2 / 10) * 10;
      await sleep(3_000);
    }
    if (lo === 0)
      throw new Error(`no rate in [0, ${ceiling}] met p99 < ${p99GoalMs} ms with every answer a 200`);
    rate = lo;
    console.log(
      rate === ceiling
        ? `R = ${rate} req/s: the quotas, not the machine, bound it (served in full at the ceiling)`
        : `R = ${rate} req/s: the machine bounds it below the quota ceiling`,
    );
    await sleep(3_000);
  } else {
    console.log(`\nR = ${rate} req/s (BENCH_RATE)`);
  }

  const stages = [
    stage('normal', rate, 20),
    stage('spike', rate * 10, spikeSeconds),
    stage('after', rate, 20),
  ];
  console.log(
    `\nstages (open model, ${connections} connections, ${warmConnections} opened first, at most ${maxInflight} in flight): ` +
      stages.map((s) => `${s.name} ${s.rate}/s × ${s.durationMs / 1000} s`).join(', '),
  );
  const metricsBefore = await searchMetrics(origin);
  // The generator's own garbage-collection pauses during the run, with when they began.
  const generatorGc: { atMs: number; ms: number }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) generatorGc.push({ atMs: entry.startTime, ms: entry.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const runStartedMs = performance.now();
  const criteria = {
    stage: 'spike',
    baseline: 'normal',
    recoveryMs: 5_000,
    p99Factor: 2,
    recoveryFactor: 1.2,
    refusals: [429, 503],
  };
  const result = await run(scenario(stages, criteria));
  gcObserver.disconnect();
  const metricsAfter = await searchMetrics(origin);

  console.log(
    `\nsearch mix: ${tenants.map((t) => `${Math.round(t.share * 100)}% ${t.name} (${t.tier})`).join(', ')}; ` +
      `read cache ${readCache}, quota scale ${quotaScale}; admitted = not 429/503, latency from intended start`,
  );
  console.log(
    '| stage | target /s | achieved /s | late starts | dropped | 200 | 429 | 503 | other | net errors | admitted p50 / p95 / p99 ms | admitted p99 from send ms | refused p99 ms |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const report of result.stages) {
    const cell = stageCell(result, report.name);
    console.log(
      `| ${report.name} | ${report.targetRate} | ${fmt(report.achievedRate, 0)} | ${report.lateStarts} | ${report.dropped} | ` +
        `${code(cell, 200)} | ${code(cell, 429)} | ${code(cell, 503)} | ${others(cell)} | ${cell.networkErrors} | ` +
        `${fmt(cell.percentileMs(50))} / ${fmt(cell.percentileMs(95))} / ${fmt(cell.percentileMs(99))} | ` +
        `${fmt(cell.percentileMs(99, 'raw'))} | ${fmt(cell.percentileMs(99, 'refused'))} |`,
    );
  }
  const loop = result.eventLoopDelayMs;
  console.log(
    `generator event-loop delay: p50 ${fmt(loop.p50)} ms, p99 ${fmt(loop.p99)} ms, max ${fmt(loop.max)} ms`,
  );

  // Server side: Fastify's onRequest-to-response time, from casebook's own histogram (buckets 1, 2.5, 5 ms...).
  const serverSide = (status: string) => {
    const before = metricsBefore.durations.get(status);
    const after = metricsAfter.durations.get(status);
    const n = (le: string) => (after?.get(le) ?? 0) - (before?.get(le) ?? 0);
    return {
      total: n('+Inf'),
      within1: n('0.001'),
      within5: n('0.005'),
      within25: n('0.025'),
      within100: n('0.1'),
      within250: n('0.25'),
    };
  };
  console.log(
    '\nthe same answers server side (casebook /metrics, onRequest → response, over the three stages):',
  );
  console.log('| status | count | ≤ 1 ms | ≤ 5 ms | ≤ 25 ms | ≤ 100 ms | ≤ 250 ms |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const pct = (part: number, whole: number) => `${fmt((part / Math.max(1, whole)) * 100, 2)}%`;
  for (const status of ['200', '429', '503']) {
    const s = serverSide(status);
    if (s.total === 0) continue;
    console.log(
      `| ${status} | ${s.total} | ${pct(s.within1, s.total)} | ${pct(s.within5, s.total)} | ${pct(s.within25, s.total)} | ` +
        `${pct(s.within100, s.total)} | ${pct(s.within250, s.total)} |`,
    );
  }
  const refusals = [...metricsAfter.rejected]
    .map(([reason, n]) => [reason, n - (metricsBefore.rejected.get(reason) ?? 0)] as const)
    .filter(([, n]) => n > 0);
  console.log(
    `search bulkhead refusals (503) by reason: ${refusals.length ? refusals.map(([r, n]) => `${r} ${n}`).join(', ') : 'none'}`,
  );

  // Where a slow second's time went: garbage collection in the server or in the generator, each by its own account.
  const serverGc = [...metricsAfter.gc].map(([kind, after]) => {
    const before = metricsBefore.gc.get(kind) ?? { count: 0, over10ms: 0, seconds: 0 };
    return `${kind} ${after.count - before.count} (${after.over10ms - before.over10ms} over 10 ms, ${fmt((after.seconds - before.seconds) * 1000, 0)} ms in all)`;
  });
  console.log(
    `casebook's GC pauses over the three stages: ${serverGc.join('; ') || 'no nodejs_gc_duration_seconds'}`,
  );
  const longGc = generatorGc.filter((g) => g.ms > 5);
  console.log(
    `the generator's GC pauses: ${generatorGc.length}, ${fmt(
      generatorGc.reduce((a, g) => a + g.ms, 0),
      0,
    )} ms in all; over 5 ms: ` +
      (longGc.map((g) => `${fmt(g.ms, 1)} ms at ${fmt((g.atMs - runStartedMs) / 1000, 1)} s`).join(', ') ||
        'none'),
  );
  const slow = result.seconds.filter((second) => second.admitted > 0 && second.percentileMs(99) > 5);
  console.log(
    `seconds with an admitted p99 over 5 ms: ${slow.map((second) => `${second.stage} s (${fmt(second.percentileMs(99))} ms)`).join(', ') || 'none'}`,
  );

  // Per second around the spike's end, from the run's per-second cells (answers by completion time).
  const spikeEnd = (20 + spikeSeconds) * 1000;
  console.log(
    '\nper second (t = seconds since the first stage began; the spike ends at',
    spikeEnd / 1000,
    's)',
  );
  console.log('| t | answers | 200 | 429 | 503 | other + net | admitted p50 / p99 ms |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const second of result.seconds) {
    const t = Number(second.stage);
    if (t * 1000 < spikeEnd - 5_000 || t * 1000 > spikeEnd + 10_000) continue;
    console.log(
      `| ${t} | ${second.count} | ${code(second, 200)} | ${code(second, 429)} | ${code(second, 503)} | ${others(second) + second.networkErrors} | ` +
        `${fmt(second.percentileMs(50))} / ${fmt(second.percentileMs(99))} |`,
    );
  }

  const spike = judgeSpike(result, criteria);
  console.log(`\n${drillTable(spike)}\n`);
  const live = await fetch(`${origin}/health/live`).then(
    (res) => res.status,
    (error: Error) => error.message,
  );
  const alive = casebookExit === undefined && casebook.child.exitCode === null && live === 200;
  console.log(
    `${verdict(alive)} (a) casebook stayed up: ${casebookExit ?? 'process running'}, /health/live after the spike → ${live}`,
  );
  console.log(
    `${verdict(spike.checks[0]!.verdict === 'pass')} (b) in the spike every non-200 is 429 or 503: ${spike.checks[0]!.detail}`,
  );
  console.log(
    `${verdict(spike.checks[1]!.verdict === 'pass')} (c) admitted p99 in the spike ≤ 2 × normal: ${spike.checks[1]!.detail}`,
  );
  console.log(
    `${verdict(spike.checks[2]!.verdict === 'pass')} (d) back to normal within 5 s: ${spike.checks[2]!.detail}`,
  );
  const shed = [serverSide('429'), serverSide('503')];
  const shedTotal = shed.reduce((a, x) => a + x.total, 0);
  const shedWithin5 = shed.reduce((a, x) => a + x.within5, 0);
  const fast = shedWithin5 >= 0.99 * shedTotal;
  console.log(
    `${verdict(fast)} (e) overload answers under 5 ms server side: ${pct(shedWithin5, shedTotal)} of ${shedTotal} 429/503 within 5 ms (≥ 99%)`,
  );
  if (!(alive && spike.verdict === 'pass' && fast)) process.exitCode = 1;
} finally {
  await casebook.stop();
  await rm(dataDir, { recursive: true, force: true });
}
