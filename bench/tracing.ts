// What tracing costs casebook's cached search (a golden-path route), in one run, with wrk, against casebook with
// tracing off (no OTEL_* set: the SDK is never loaded):
//   - SDK loaded, nothing sampled (OTEL_TRACES_SAMPLER=parentbased_always_off)   goal ≥ 0.97 of off
//   - golden path sampled within the spec's cap (tracing.max_per_second: 100)     goal ≥ 0.90 of off
//   - every request sampled and exported (HEADROOM_TRACES_PER_SECOND=1000000)     reported, no goal
// Spans go over OTLP/HTTP JSON to a receiver in a process of its own (bench/servers/otlp-receiver.ts), which
// counts them.
//
//   node bench/tracing.ts          (BENCH_SECONDS=N per wrk run, default 4; BENCH_ROUNDS=N, default 10: short runs, many rounds, as drift on a shared machine is slower than 4 s)

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '@headroom/dev-servers/postgres';
import { wrk } from './lib/load.ts';
import { benchOperatorToken, demoLogin, pinThisProcess, type Started, startNode } from './lib/process.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const root = join(import.meta.dirname, '..');
const server = join(root, 'apps/casebook/src/server.ts');
const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-tracing-'));
await chmod(dataDir, 0o711);
// Casebook on CPU 0; wrk, this process and the receiver on CPU 1: the server under test does not share its core
// with the load or the spans' receiver (only one casebook is loaded at a time; the others sit idle).
const serverCpu = '0';
const pinned = pinThisProcess('1');
const receiver = await startNode(join(import.meta.dirname, 'servers/otlp-receiver.ts'), {
  ready: /listening on (http:\/\/\S+)/,
  cpus: '1',
});
const stats = async () =>
  (await (await fetch(`${receiver.match}/stats`)).json()) as {
    requests: { accepted: number; refused: number };
    spans: Record<string, number>;
  };
const common = { PORT: '0', LOG_LEVEL: 'warn', QUOTA_SCALE: '1000', OPERATOR_TOKEN: benchOperatorToken };
const ready = /casebook is ready at (http:\/\/\S+)/;
const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.match!, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };

// One PostgreSQL for every instance, started here, so the four casebooks are alike but for tracing (the first
// seeds the demo data; the others find it there).
const postgres = await startPostgres({ dataDir: join(dataDir, 'pg'), ephemeral: true });
const started: Started[] = [];
try {
  await postgres.createDatabase('casebook');
  const shared = { ...common, DATA_DIR: join(dataDir, 'casebook'), DATABASE_URL: postgres.url('casebook') };
  const variants: { name: string; server: Started; goal?: number }[] = [];
  const add = async (name: string, env: Record<string, string>, goal?: number) => {
    const s = await startNode(server, {
      env: { ...shared, ...env },
      ready,
      timeoutMs: 300_000,
      cpus: serverCpu,
    });
    started.push(s);
    variants.push({ name, server: s, ...(goal ? { goal } : {}) });
  };
  await add('tracing off (no SDK)', {});
  const off = variants[0]!.server;
  await add('SDK loaded, nothing sampled', { ...otlp, OTEL_TRACES_SAMPLER: 'parentbased_always_off' }, 0.97);
  await add('golden path sampled, cap 100/s', { ...otlp, OTEL_TRACES_SAMPLER_ARG: '0' }, 0.9);
  await add('every request sampled', {
    ...otlp,
    OTEL_TRACES_SAMPLER_ARG: '1',
    HEADROOM_TRACES_PER_SECOND: '1000000',
  });

  const headers = await demoLogin(off.match!);
  const path = '/v1/cases/search?q=fraud&limit=20';
  for (const v of variants) wrk(`${v.server.match}${path}`, { seconds: 2, headers }); // warm: cache filled, JIT hot
  const runs = new Map(variants.map((v) => [v.name, [] as ReturnType<typeof wrk>[]]));
  const before = await stats();
  for (let i = 0; i < rounds; i++) {
    for (const v of variants) runs.get(v.name)!.push(wrk(`${v.server.match}${path}`, { seconds, headers }));
  }
  const best = (name: string) => runs.get(name)!.reduce((a, b) => (b.rps > a.rps ? b : a));
  const base = best(variants[0]!.name);
  console.log(
    `wrk -t1 -c32 -d${seconds}s on ${path} (cache hit), best of ${rounds} alternating rounds each${pinned ? '; casebook on CPU 0, wrk and the receiver on CPU 1' : ''}`,
  );
  console.log('| casebook | req/s | p50 ms | p99 ms | errors | ÷ off | goal |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const v of variants) {
    const r = best(v.name);
    const ratio = r.rps / base.rps;
    const goal = v.goal === undefined ? '' : `≥ ${v.goal} ${ratio >= v.goal ? 'met' : 'NOT met'}`;
    console.log(
      `| ${v.name} | ${Math.round(r.rps)} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${ratio.toFixed(3)} | ${goal} |`,
    );
  }
  // Each round's run beside the tracing-off run of the same round: drift of the machine cancels out.
  const offRuns = runs.get(variants[0]!.name)!;
  for (const v of variants.slice(1)) {
    const paired = runs.get(v.name)!.map((r, i) => r.rps / offRuns[i]!.rps);
    const median = [...paired].sort((a, b) => a - b)[Math.floor(paired.length / 2)]!;
    console.log(
      `${v.name}: per round ÷ off ${paired.map((r) => r.toFixed(3)).join(', ')} (median ${median.toFixed(3)})`,
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 6_000)); // the last batches (5 s schedule)
  const after = await stats();
  const search = (after.spans['GET /v1/cases/search'] ?? 0) - (before.spans['GET /v1/cases/search'] ?? 0);
  const all = (s: typeof after) => Object.values(s.spans).reduce((a, b) => a + b, 0);
  console.log(
    `receiver: ${all(after) - all(before)} spans, ${search} of them search server spans, in the measured runs; ${after.requests.accepted} export requests, ${after.requests.refused} refused`,
  );
} finally {
  for (const s of started.reverse()) await s.stop();
  await receiver.stop();
  await postgres.stop();
  await rm(dataDir, { recursive: true, force: true });
}
