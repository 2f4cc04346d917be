// How fast the SLO degrader acts, against what its rule says it should: the time from the start of a breach to
// the features off, and from the recovery to their restore, in real time (systemClock, the degrader's own 1 s
// timer), with answers fed to its observer at a steady rate as @headroom/fastify feeds them.
//
//   npm run bench:degrader
//     BENCH_RATE          answers/s (200)
//     BENCH_SLOW_SHARE    share of answers over budget during the breach (0.2)
//     BENCH_BREACH_FOR    the rule's breachFor, ms (5_000; headroom.yaml's search-slow says 30 s)
//     BENCH_RESTORE_FOR   the rule's restoreFor, ms (10_000; headroom.yaml's says 2 min)
//     BENCH_WINDOW        the rule's window, ms (10_000, the default)
//
// The expectation, from the rule alone: a breach shows once the window's share over budget passes the share the
// percentile allows (p95: 5%), i.e. window × 0.05 / slowShare after the breach starts, then breachFor; a recovery
// shows once the share over restoreBelow × budget falls to 5%, i.e. window × (1 − 0.05 / slowShare), then
// restoreFor. Measured minus expected is the degrader's own lag: at most one verdict interval (1 s) plus one
// window slot (1 s) is the goal.

import { systemClock } from '../packages/core/src/clock/index.ts';
import { createDegrader, type DegradeAction } from '../packages/core/src/slo/degrader.ts';
import type { Objective } from '../packages/core/src/slo/spec.ts';

const rate = Number(process.env.BENCH_RATE ?? 200);
const slowShare = Number(process.env.BENCH_SLOW_SHARE ?? 0.2);
const breachFor = Number(process.env.BENCH_BREACH_FOR ?? 5_000);
const restoreFor = Number(process.env.BENCH_RESTORE_FOR ?? 10_000);
const window = Number(process.env.BENCH_WINDOW ?? 10_000);
const budget = 150;
const allowed = 0.05; // p95
const limitMs = 3 * (window + breachFor + restoreFor);

const objective: Objective = {
  name: 'search',
  method: 'GET',
  route: '/v1/cases/search',
  latency: { p95: budget },
};
const clock = systemClock();
const actions: (DegradeAction & { wall: number })[] = [];
const degrader = createDegrader({
  clock,
  target: { degrade: () => {}, restore: () => {} },
  rules: [
    {
      name: 'search-slow',
      objective,
      features: ['expand_depth_3', 'suggestions'],
      breachFor,
      restoreFor,
      minHold: restoreFor,
      window,
    },
  ],
});
degrader.onAction((a) => actions.push({ ...a, wall: performance.now() }));
const observe = degrader.observer('GET', '/v1/cases/search')!;

// The answers: every 10 ms, rate/100 of them; while `slow`, slowShare of them take 400 ms, the rest 20 ms.
let slow = false;
let sent = 0;
const feeder = setInterval(() => {
  const n = rate / 100;
  for (let i = 0; i < n; i++) {
    sent++;
    observe(slow && (sent % 100) / 100 < slowShare ? 400 : 20, 200);
  }
}, 10);
degrader.start();

const waitFor = async (action: 'degrade' | 'restore', since: number): Promise<number | undefined> => {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    const found = actions.find((a) => a.action === action && a.wall >= since);
    if (found) return found.wall - since;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
};

console.log(
  `degrader bench: ${rate} answers/s, ${slowShare * 100}% at 400 ms during the breach (p95 budget ${budget} ms), window ${window / 1000} s, breachFor ${breachFor / 1000} s, restoreFor ${restoreFor / 1000} s, node ${process.version}\n`,
);
await new Promise((resolve) => setTimeout(resolve, window)); // a full window of healthy answers first
const breachStart = performance.now();
slow = true;
const off = await waitFor('degrade', breachStart);
slow = false;
const recoveryStart = performance.now();
const on = off === undefined ? undefined : await waitFor('restore', recoveryStart);
clearInterval(feeder);
degrader.stop();

const expectedOff = (window * allowed) / slowShare + breachFor;
const expectedOn = Math.max(window * (1 - allowed / slowShare) + restoreFor, restoreFor);
const goalLag = 2_000;
const row = (label: string, measured: number | undefined, expected: number) => {
  const lag = measured === undefined ? Number.NaN : measured - expected;
  const verdict = measured !== undefined && lag <= goalLag && lag >= -1_000 ? 'met' : 'NOT met';
  console.log(
    `| ${label} | ${measured === undefined ? 'never' : (measured / 1000).toFixed(2)} | ${(expected / 1000).toFixed(2)} | ${Number.isNaN(lag) ? '-' : (lag / 1000).toFixed(2)} | ${verdict} |`,
  );
};
console.log('| | measured s | expected from the rule s | lag s (goal ≤ 2) | |');
console.log('| --- | ---: | ---: | ---: | --- |');
row('breach start → features off', off, expectedOff);
row('recovery → features restored', on, expectedOn);
console.log(`\nactions: ${actions.map((a) => `${a.action} (${a.reason})`).join('; ')}`);
