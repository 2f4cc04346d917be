// The spike drill (scaled to this machine): casebook with its real tier quotas and
// search bulkhead takes a sustainable rate R, then 10 × R, then R again. It must stay up, answer beyond
// its limits only with 429 / 503, keep the p99 of admitted requests within 2 × normal, and be back to
// normal within 5 s of the spike's end.
//
//   npm run bench:spike
//   BENCH_SPIKE_SECONDS=10 npm run bench:spike   # shorter spike (default 30 s)
//   BENCH_RATE=400 npm run bench:spike           # a fixed R instead of the bisection
//   BENCH_READ_CACHE=off BENCH_QUOTA_SCALE=10 npm run bench:spike   # searches hit PostgreSQL, quotas × 10
//
// Open model (bench/lib/open-loop.ts): every request has an intended start; admitted (200) latency counts
// from it, so generator lag and server queueing both show. Overload answers are also timed from the send.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tier } from '../apps/casebook/src/tenancy/tiers.ts';
import { tierQuotas } from '../apps/casebook/src/tenancy/tiers.ts';
import {
  histogram,
  type LoadPhase,
  type PhaseTally,
  percentileMs,
  runOpenLoop,
  type Tally,
} from './lib/open-loop.ts';
import { benchOperatorToken, operatorHeaders, startNode } from './lib/process.ts';

const spikeSeconds = Number(process.env.BENCH_SPIKE_SECONDS ?? 30);
const fixedRate = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
const quotaScale = Number(process.env.BENCH_QUOTA_SCALE ?? 1);
const readCache = process.env.BENCH_READ_CACHE ?? 'on';
const p99GoalMs = 50; // what R must be served within
const connections = 256;
// Opened before each run, as a load balancer keeps warm connections to its backends.
const warmConnections = 64;
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
const count = (t: Tally, code: number) => t.codes.get(code) ?? 0;
const others = (t: Tally) =>
  [...t.codes].filter(([c]) => c !== 200 && c !== 429 && c !== 503).reduce((a, [, n]) => a + n, 0);
const networkErrors = (t: Tally) => [...t.networkErrors.values()].reduce((a, n) => a + n, 0);
const answered = (t: Tally) => [...t.codes.values()].reduce((a, n) => a + n, 0);
const shedShare = (t: Tally) => (count(t, 429) + count(t, 503)) / Math.max(1, answered(t));
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/** What casebook's /metrics says about search: answer durations by status, bulkhead refusals by reason. */
interface SearchMetrics {
  /** Cumulative answer counts per `le` bucket (seconds), by status code. */
  durations: Map<string, Map<string, number>>;
  /** Search bulkhead refusals by reason (full, queue-timeout, evicted). */
  rejected: Map<string, number>;
}

async function searchMetrics(origin: string): Promise<SearchMetrics> {
  const text = await (await fetch(`${origin}/metrics`, { headers: operatorHeaders })).text();
  const metrics: SearchMetrics = { durations: new Map(), rejected: new Map() };
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
  // A seeded PRNG, so every run sends the same sequence of tenants and words.
  let seed = 42;
  const random = () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const next = () => {
    const u = random();
    let i = 0;
    for (let acc = tenants[0]!.share; u >= acc && i < tenants.length - 1; acc += tenants[++i]!.share);
    return {
      path: `/v1/cases/search?q=${words[Math.floor(random() * words.length)]}&limit=20`,
      headers: { authorization: `Bearer ${tokens[i]}` },
    };
  };
  const run = (phases: LoadPhase[]) =>
    runOpenLoop(origin, phases, { next, connections, maxInflight, warmConnections });

  // The rate every tenant's quota allows for its share of the mix, with 10% slack for the random split.
  const quotaCeiling = Math.min(
    ...tenants.map((t) => {
      const q = tierQuotas[t.tier];
      return (((q.limit * quotaScale) / q.window) * 1000) / t.share;
    }),
  );
  const ceiling = Math.floor((quotaCeiling * 0.9) / 10) * 10;

  // Warm-up (JIT, plan and read caches), then let the quota buckets refill.
  await run([{ name: 'warm-up', rate: Math.min(100, ceiling), seconds: 3 }]);
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
      const [t] = (await run([{ name: `probe ${probe}`, rate: probe, seconds: 5 }])).phases;
      const p99 = percentileMs(t!.admitted, 99);
      const ok =
        t!.dropped === 0 && answered(t!) === count(t!, 200) && count(t!, 200) === t!.sent && p99 < p99GoalMs;
      console.log(
        `| ${step} | ${probe} | ${fmt(t!.achievedRps, 0)} | ${count(t!, 200)} | ${t!.sent - count(t!, 200)} | ${t!.dropped} | ${fmt(p99)} | ${ok ? 'yes' : 'no'} |`,
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

  const phases: LoadPhase[] = [
    { name: 'normal', rate, seconds: 20 },
    { name: 'spike', rate: rate * 10, seconds: spikeSeconds },
    { name: 'after', rate, seconds: 20 },
  ];
  console.log(
    `\nphases (open model, ${connections} connections, ${warmConnections} opened first, at most ${maxInflight} in flight): ` +
      phases.map((p) => `${p.name} ${p.rate}/s × ${p.seconds} s`).join(', '),
  );
  const metricsBefore = await searchMetrics(origin);
  const result = await run(phases);
  const metricsAfter = await searchMetrics(origin);
  const [normal, spike, after] = result.phases as [PhaseTally, PhaseTally, PhaseTally];

  console.log(
    `\nsearch mix: ${tenants.map((t) => `${Math.round(t.share * 100)}% ${t.name} (${t.tier})`).join(', ')}; ` +
      `read cache ${readCache}, quota scale ${quotaScale}; admitted = 200, latency from intended start`,
  );
  console.log(
    '| phase | target /s | achieved /s | send lag p99 ms | dropped | 200 | 429 | 503 | other | net errors | admitted p50 / p95 / p99 ms | admitted p99 from send ms | generator cores | machine busy |',
  );
  console.log(
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const t of result.phases) {
    console.log(
      `| ${t.phase.name} | ${t.phase.rate} | ${fmt(t.achievedRps, 0)} | ${fmt(percentileMs(t.sendLag, 99))} | ${t.dropped} | ` +
        `${count(t, 200)} | ${count(t, 429)} | ${count(t, 503)} | ${others(t)} | ${networkErrors(t)} | ` +
        `${fmt(percentileMs(t.admitted, 50))} / ${fmt(percentileMs(t.admitted, 95))} / ${fmt(percentileMs(t.admitted, 99))} | ` +
        `${fmt(percentileMs(t.admittedFromSend, 99))} | ${fmt(t.generatorCores)} | ${fmt(t.machineBusy * 100, 0)}% |`,
    );
  }
  for (const t of result.phases) {
    if (t.achievedRps < t.phase.rate * 0.98 || t.dropped > 0)
      console.log(
        `note: in ${t.phase.name} the generator sent ${fmt(t.achievedRps, 0)} of ${t.phase.rate} req/s ` +
          `(${t.dropped} dropped at the in-flight cap)`,
      );
    for (const [code, n] of t.networkErrors) console.log(`note: ${t.phase.name}: ${n} × ${code}`);
    for (const [code, n] of t.codes)
      if (code !== 200 && code !== 429 && code !== 503)
        console.log(`note: ${t.phase.name}: ${n} × HTTP ${code}`);
  }

  console.log(
    '\noverload answers, ms (from send = server + network; from intended start adds generator lag):',
  );
  console.log(
    '| phase | status | count | from send p50 / p99 / max | from intended p50 / p99 | without Retry-After |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const t of result.phases) {
    for (const code of [429, 503]) {
      const fromSend = t.fromSend.get(code);
      const fromIntent = t.fromIntent.get(code);
      if (!fromSend) continue;
      console.log(
        `| ${t.phase.name} | ${code} | ${fromSend.totalCount} | ${fmt(percentileMs(fromSend, 50))} / ${fmt(percentileMs(fromSend, 99))} / ${fmt(fromSend.maxValue / 1000)} | ` +
          `${fmt(percentileMs(fromIntent, 50))} / ${fmt(percentileMs(fromIntent, 99))} | ${code === 429 || code === 503 ? t.missingRetryAfter : '-'} |`,
      );
    }
  }

  // Server side: Fastify's onRequest-to-response time, from casebook's own histogram (buckets 1, 2.5, 5 ms...).
  const serverSide = (code: string) => {
    const before = metricsBefore.durations.get(code);
    const after = metricsAfter.durations.get(code);
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
  console.log('\nsame answers server side (casebook /metrics, onRequest → response, over the three phases):');
  console.log('| status | count | ≤ 1 ms | ≤ 5 ms | ≤ 25 ms | ≤ 100 ms | ≤ 250 ms |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const pct = (part: number, whole: number) => `${fmt((part / Math.max(1, whole)) * 100, 2)}%`;
  for (const code of ['200', '429', '503']) {
    const s = serverSide(code);
    if (s.total === 0) continue;
    console.log(
      `| ${code} | ${s.total} | ${pct(s.within1, s.total)} | ${pct(s.within5, s.total)} | ${pct(s.within25, s.total)} | ` +
        `${pct(s.within100, s.total)} | ${pct(s.within250, s.total)} |`,
    );
  }
  const refusals = [...metricsAfter.rejected]
    .map(([reason, n]) => [reason, n - (metricsBefore.rejected.get(reason) ?? 0)] as const)
    .filter(([, n]) => n > 0);
  console.log(
    `search bulkhead refusals (503) by reason: ${refusals.length ? refusals.map(([r, n]) => `${r} ${n}`).join(', ') : 'none'}`,
  );

  // Recovery. One second holds ~R answers, so its p99 is a handful of samples and one GC pause moves it; the
  // verdict therefore merges the rest of the after phase: recovered at second s when the 429/503 share of
  // second s is back to normal, and seconds s..end together have admitted p99 ≤ 1.2 × normal and the normal
  // 429/503 share (+ 1 point).
  const normalP99 = percentileMs(normal.admitted, 99);
  const normalShed = shedShare(normal);
  const spikeEnd = phases[0]!.seconds + phases[1]!.seconds;
  const runEnd = spikeEnd + phases[2]!.seconds;
  const latencyBound = 1.2 * normalP99;
  const shedBound = normalShed + 0.01;
  const restFrom = (s: number) => {
    const admitted = histogram();
    let shed = 0;
    let total = 0;
    for (let i = s; i < runEnd; i++) {
      const t = result.seconds[i];
      if (!t) continue;
      admitted.add(t.admitted);
      shed += count(t, 429) + count(t, 503);
      total += answered(t);
    }
    return { p99: percentileMs(admitted, 99), shed: shed / Math.max(1, total) };
  };
  const recovered = (s: number) => {
    const t = result.seconds[s];
    const rest = restFrom(s);
    return !!t && shedShare(t) <= shedBound && rest.p99 <= latencyBound && rest.shed <= shedBound;
  };
  console.log(
    `\nper second (0 = the spike's end, by intended start); normal: admitted p99 ${fmt(normalP99)} ms, ` +
      `429/503 share ${fmt(normalShed * 100, 1)}%; bounds ${fmt(latencyBound)} ms and ${fmt(shedBound * 100, 1)}%`,
  );
  console.log(
    '| s | sent | 200 | 429 | 503 | other + net | admitted p50 / p99 ms | 429/503 share | p99 from s to end ms | recovered |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (let s = spikeEnd - 5; s < Math.min(runEnd, spikeEnd + 10); s++) {
    const t = result.seconds[s];
    if (!t) continue;
    console.log(
      `| ${s - spikeEnd} | ${t.sent} | ${count(t, 200)} | ${count(t, 429)} | ${count(t, 503)} | ${others(t) + networkErrors(t)} | ` +
        `${fmt(percentileMs(t.admitted, 50))} / ${fmt(percentileMs(t.admitted, 99))} | ${fmt(shedShare(t) * 100, 1)}% | ` +
        `${s >= spikeEnd ? fmt(restFrom(s).p99) : ''} | ${s >= spikeEnd ? (recovered(s) ? 'yes' : 'no') : ''} |`,
    );
  }
  let recoveredAt = Number.POSITIVE_INFINITY;
  for (let s = spikeEnd; s < runEnd; s++) {
    if (recovered(s)) {
      recoveredAt = s - spikeEnd;
      break;
    }
  }

  const live = await fetch(`${origin}/health/live`).then(
    (res) => res.status,
    (error: Error) => error.message,
  );
  const alive = casebookExit === undefined && casebook.child.exitCode === null && live === 200;
  const spikeP99 = percentileMs(spike.admitted, 99);
  console.log('');
  console.log(
    `${verdict(alive)} (a) casebook stayed up: ${casebookExit ?? 'process running'}, /health/live after the spike → ${live}`,
  );
  console.log(
    `${verdict(others(spike) === 0 && networkErrors(spike) === 0)} (b) in the spike every non-200 is 429 or 503: ` +
      `${count(spike, 429)} × 429, ${count(spike, 503)} × 503, ${others(spike)} others, ${networkErrors(spike)} network errors/timeouts` +
      ` (${spike.dropped} dropped by the generator, not sent)`,
  );
  console.log(
    `${verdict(spikeP99 <= 2 * normalP99)} (c) admitted p99 in the spike ${fmt(spikeP99)} ms ≤ 2 × normal ${fmt(normalP99)} ms ` +
      `(ratio ${fmt(spikeP99 / normalP99)}; from send: ${fmt(percentileMs(spike.admittedFromSend, 99))} vs ${fmt(percentileMs(normal.admittedFromSend, 99))} ms)`,
  );
  console.log(
    `${verdict(recoveredAt <= 5)} (d) back to normal ${Number.isFinite(recoveredAt) ? `from second ${recoveredAt}` : 'never (within the after phase)'} after the spike (≤ 5 s)`,
  );
  const shed = [serverSide('429'), serverSide('503')];
  const shedTotal = shed.reduce((a, x) => a + x.total, 0);
  const shedWithin5 = shed.reduce((a, x) => a + x.within5, 0);
  const shedFromSendP99 = Math.max(
    percentileMs(spike.fromSend.get(429), 99) || 0,
    percentileMs(spike.fromSend.get(503), 99) || 0,
  );
  console.log(
    `${verdict(shedWithin5 >= 0.99 * shedTotal)} (e) overload answers under 5 ms server side: ${pct(shedWithin5, shedTotal)} ` +
      `of ${shedTotal} 429/503 within 5 ms (≥ 99%); seen by the client from its send: spike p99 ${fmt(shedFromSendP99)} ms`,
  );
  if (after.dropped + networkErrors(after) + others(after) > 0)
    console.log(
      `note: the after phase had ${after.dropped} dropped, ${networkErrors(after)} network errors, ${others(after)} other statuses`,
    );
} finally {
  await casebook.stop();
  await rm(dataDir, { recursive: true, force: true });
}
