// What does protection cost per call? wrap(timeout, circuitBreaker, retry, bulkhead) around an async no-op,
// ours against the same composition in cockatiel (the field's library), measured in the same run.
//
//   node bench/policy.ts            (BENCH_ROUNDS=N, default 10; each round ~1 s per contender)
//
// Per-call time is the mean over a batch of 100 sequential calls (a timer read per call would cost as
// much as what is measured); the p50 and p99 are over batches. Overhead = per-call time − a bare call.

import {
  CountBreaker,
  bulkhead as cBulkhead,
  circuitBreaker as cCircuitBreaker,
  retry as cRetry,
  timeout as cTimeout,
  wrap as cWrap,
  handleAll,
  TimeoutStrategy,
} from 'cockatiel';
import { bulkhead, circuitBreaker, retry, timeout, wrap } from '../packages/core/src/policy/index.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const batch = 100;
const task = async () => 1;

const ours = wrap(
  timeout({ duration: 1_000 }),
  circuitBreaker({ window: { type: 'count', size: 100 }, failureRateThreshold: 0.5, halfOpenAfter: 30_000 }),
  retry({ maxAttempts: 3 }),
  bulkhead({ maxConcurrent: 64, maxQueue: 64 }),
);
const theirs = cWrap(
  cTimeout(1_000, TimeoutStrategy.Cooperative),
  cCircuitBreaker(handleAll, {
    halfOpenAfter: 30_000,
    breaker: new CountBreaker({ threshold: 0.5, size: 100 }),
  }),
  cRetry(handleAll, { maxAttempts: 2 }),
  cBulkhead(64, 64),
);

const contenders: Record<string, () => Promise<unknown>> = {
  bare: task,
  headroom: () => ours.execute(task),
  cockatiel: () => theirs.execute(task),
};

// Sequential: batches of `batch` calls for ~`ms`, returning the per-call time of each batch in µs.
async function sequential(call: () => Promise<unknown>, ms: number): Promise<number[]> {
  const perCall: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await call();
    perCall.push(Number(process.hrtime.bigint() - started) / 1_000 / batch);
  }
  return perCall;
}

// Concurrent: 64 callers in a loop for ~`ms`; calls per second.
async function concurrent(call: () => Promise<unknown>, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const loop = async () => {
    while (performance.now() < end) {
      for (let i = 0; i < batch; i++) await call();
      done += batch;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, loop));
  return done / ((performance.now() - started) / 1000);
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

for (const call of Object.values(contenders)) await sequential(call, 300); // warm-up, JIT

const samples: Record<string, number[]> = { bare: [], headroom: [], cockatiel: [] };
const rates: Record<string, number[]> = { bare: [], headroom: [], cockatiel: [] };
for (let r = 0; r < rounds; r++) {
  // Alternate the order so drift in the machine's speed does not favour one side.
  const order = r % 2 === 0 ? ['bare', 'headroom', 'cockatiel'] : ['cockatiel', 'headroom', 'bare'];
  for (const name of order) {
    for (const v of await sequential(contenders[name]!, 700)) samples[name]!.push(v);
    rates[name]!.push(await concurrent(contenders[name]!, 300));
  }
}

const bare50 = quantile(samples.bare!, 0.5);
console.log(`wrap(timeout, circuitBreaker, retry, bulkhead) around an async no-op; ${rounds} rounds`);
console.log('| contender | per call p50 µs | p99 µs | overhead p50 µs | calls/s, 64 concurrent |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const name of Object.keys(contenders)) {
  const p50 = quantile(samples[name]!, 0.5);
  const p99 = quantile(samples[name]!, 0.99);
  const rate = quantile(rates[name]!, 0.5);
  console.log(
    `| ${name} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${(p50 - bare50).toFixed(3)} | ${Math.round(rate).toLocaleString('en-US')} |`,
  );
}
const oursOverhead = quantile(samples.headroom!, 0.5) - bare50;
const theirsOverhead = quantile(samples.cockatiel!, 0.5) - bare50;
console.log(
  `headroom overhead ${oursOverhead.toFixed(3)} µs (goal ≤ 2 µs); cockatiel ÷ headroom per-call overhead = ${(theirsOverhead / oursOverhead).toFixed(2)} (goal ≥ 1.0)`,
);
