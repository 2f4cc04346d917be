// The spike drill (seed 004, scenario 3, scaled to this machine): casebook with its real quotas and limits
// takes a normal rate R, then 10 × R for 30 s, then R again. It must stay up, answer beyond its capacity
// only with 429 / 503, keep the p99 of admitted requests within 2 × normal, and be back to normal within 5 s.
//
//   node bench/spike.ts     (BENCH_RATE=R, default 400/s; BENCH_SPIKE_SECONDS, default 30)
//
// Open model: every request has an intended start; latency of admitted (200) answers is measured from it
// (coordinated-omission-correct, HDR histograms). Overload answers are timed from the actual send too.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { startNode } from './lib/process.ts';

const rate = Number(process.env.BENCH_RATE ?? 400);
const spikeSeconds = Number(process.env.BENCH_SPIKE_SECONDS ?? 30);
const phases = [
  { name: 'normal', seconds: 20, rate },
  { name: 'spike', seconds: spikeSeconds, rate: rate * 10 },
  { name: 'after', seconds: 20, rate },
];
const maxInflight = 4_000;
const words = ['fraud', 'payment', 'account', 'device', 'transfer', 'chargeback', 'phishing', 'merchant'];
const statuses = ['', '&status=open', '&status=investigating'];

const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-spike-'));
await chmod(dataDir, 0o711);
const casebook = await startNode(join(import.meta.dirname, '..', 'apps/casebook/src/server.ts'), {
  env: { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'error' },
  ready: /casebook is ready at (http:\/\/\S+)/,
  timeoutMs: 300_000,
});
const origin = casebook.match!;
const pool = new Pool(origin, { connections: 256, pipelining: 1 });

try {
  // Most traffic is the enterprise tenant's; each tenant stays inside its tier's quota at the normal rate.
  const tenants: { share: number; token: string; name: string }[] = [];
  for (const [name, share] of [
    ['acme', 0.9],
    ['globex', 0.08],
    ['initech', 0.02],
  ] as const) {
    const res = await fetch(`${origin}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `analyst@${name}.test`, password: 'headroom-demo' }),
    });
    tenants.push({ name, share, token: ((await res.json()) as { token: string }).token });
  }
  const pick = (u: number) => {
    let acc = 0;
    for (const t of tenants) {
      acc += t.share;
      if (u < acc) return t;
    }
    return tenants[0]!;
  };

  const newHistogram = () =>
    hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
  interface PhaseFigures {
    sent: number;
    dropped: number;
    codes: Map<number, number>;
    networkErrors: number;
    admitted: hdr.Histogram; // µs from intended start, 200 only
    shedFromSend: hdr.Histogram; // µs from actual send, 429 and 503
    shedFromIntent: hdr.Histogram;
  }
  const figures = phases.map<PhaseFigures>(() => ({
    sent: 0,
    dropped: 0,
    codes: new Map(),
    networkErrors: 0,
    admitted: newHistogram(),
    shedFromSend: newHistogram(),
    shedFromIntent: newHistogram(),
  }));
  // Per second of the run: admitted p99 and the share of 429/503, for the recovery verdict.
  const seconds: { admitted: hdr.Histogram; total: number; shed: number }[] = [];
  let inflight = 0;
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };

  const fire = (phase: number, intended: number, t0: number) => {
    const f = figures[phase]!;
    if (inflight >= maxInflight) {
      f.dropped++;
      return;
    }
    inflight++;
    f.sent++;
    const tenant = pick(random());
    const path = `/v1/cases/search?q=${words[Math.floor(random() * words.length)]}${statuses[Math.floor(random() * statuses.length)]}`;
    const sentAt = performance.now();
    pool
      .request({ method: 'GET', path, headers: { authorization: `Bearer ${tenant.token}` } })
      .then(async ({ statusCode, body }) => {
        await body.dump();
        const done = performance.now();
        f.codes.set(statusCode, (f.codes.get(statusCode) ?? 0) + 1);
        const index = Math.floor((intended - t0) / 1000);
        seconds[index] ??= { admitted: newHistogram(), total: 0, shed: 0 };
        const second = seconds[index];
        second.total++;
        if (statusCode === 200) {
          const us = Math.max(1, Math.round((done - intended) * 1000));
          f.admitted.recordValue(us);
          second.admitted.recordValue(us);
        } else if (statusCode === 429 || statusCode === 503) {
          second.shed++;
          f.shedFromSend.recordValue(Math.max(1, Math.round((done - sentAt) * 1000)));
          f.shedFromIntent.recordValue(Math.max(1, Math.round((done - intended) * 1000)));
        }
      })
      .catch(() => {
        f.networkErrors++;
      })
      .finally(() => {
        inflight--;
      });
  };

  // The schedule: each phase's arrivals at exact intended times, fired by a 1 ms tick that catches up.
  const t0 = performance.now() + 50;
  let phaseStart = t0;
  for (const [index, phase] of phases.entries()) {
    const interval = 1000 / phase.rate;
    const total = phase.seconds * phase.rate;
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (next < total && phaseStart + next * interval <= now) {
          fire(index, phaseStart + next * interval, t0);
          next++;
        }
        if (next >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    phaseStart += phase.seconds * 1000;
  }
  while (inflight > 0) await new Promise((r) => setTimeout(r, 20));

  const ms = (h: hdr.Histogram, p: number) => (h.totalCount === 0 ? NaN : h.getValueAtPercentile(p) / 1000);
  console.log(`casebook search mix (90% enterprise, 8% pro, 2% free tenant), real quotas; R = ${rate}/s`);
  console.log(
    '| phase | target /s | sent | dropped | 200 | 429 | 503 | other | net errors | admitted p50 / p95 / p99 ms |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [i, phase] of phases.entries()) {
    const f = figures[i]!;
    const other = [...f.codes]
      .filter(([c]) => c !== 200 && c !== 429 && c !== 503)
      .reduce((a, [, n]) => a + n, 0);
    console.log(
      `| ${phase.name} | ${phase.rate} | ${f.sent} | ${f.dropped} | ${f.codes.get(200) ?? 0} | ${f.codes.get(429) ?? 0} | ${f.codes.get(503) ?? 0} | ${other} | ${f.networkErrors} | ${ms(f.admitted, 50).toFixed(2)} / ${ms(f.admitted, 95).toFixed(2)} / ${ms(f.admitted, 99).toFixed(2)} |`,
    );
  }
  const spike = figures[1]!;
  console.log(
    `overload answers in the spike (429/503): from send p50 ${ms(spike.shedFromSend, 50).toFixed(2)} ms, p99 ${ms(spike.shedFromSend, 99).toFixed(2)} ms; from intended start p99 ${ms(spike.shedFromIntent, 99).toFixed(2)} ms`,
  );

  const normalP99 = ms(figures[0]!.admitted, 99);
  const spikeEnd = phases[0]!.seconds + phases[1]!.seconds;
  console.log('second | admitted p99 ms | share 429/503');
  for (let s = spikeEnd - 5; s < spikeEnd + 10; s++) {
    const sec = seconds[s];
    if (sec)
      console.log(
        `${String(s).padStart(6)} | ${ms(sec.admitted, 99).toFixed(2).padStart(15)} | ${((sec.shed / sec.total) * 100).toFixed(1)}%`,
      );
  }
  const recoveredAt = (() => {
    for (let s = spikeEnd; s < spikeEnd + phases[2]!.seconds; s++) {
      const rest = seconds.slice(s, spikeEnd + phases[2]!.seconds - 1).filter(Boolean);
      if (rest.every((sec) => ms(sec.admitted, 99) <= normalP99 * 1.2 + 1 && sec.shed / sec.total < 0.01))
        return s - spikeEnd;
    }
    return Number.POSITIVE_INFINITY;
  })();
  const alive = casebook.child.exitCode === null && (await fetch(`${origin}/health/live`)).status === 200;
  const spikeOther = [...spike.codes].filter(([c]) => c !== 200 && c !== 429 && c !== 503).length;
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  console.log(`${verdict(alive)} the process stayed up (/health/live 200 after the spike)`);
  console.log(
    `${verdict(spikeOther === 0 && spike.networkErrors === 0)} beyond capacity only 429/503 (others: ${spikeOther}, network errors: ${spike.networkErrors})`,
  );
  const ratio = ms(spike.admitted, 99) / normalP99;
  console.log(
    `${verdict(ratio <= 2)} admitted p99 in the spike ${ms(spike.admitted, 99).toFixed(2)} ms ÷ normal ${normalP99.toFixed(2)} ms = ${ratio.toFixed(2)} (≤ 2)`,
  );
  console.log(
    `${verdict(recoveredAt <= 5)} back to normal ${recoveredAt} s after the spike (≤ 5 s: admitted p99 within 1.2 × normal + 1 ms, < 1% shed)`,
  );
} finally {
  await pool.close();
  await casebook.stop();
  await rm(dataDir, { recursive: true, force: true });
}
