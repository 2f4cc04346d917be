// Issue 15, graceful shutdown: SIGTERM to casebook while the repo's load engine sends cached searches at
// BENCH_RATE (1,000/s, open model). Run 1 is casebook's shutdown as it ships (SHUTDOWN_DELAY_MS, 5 s: readiness
// 503, serving on, each answer closing its connection); the peer, run 2, is the same casebook stopping at once
// (SHUTDOWN_DELAY_MS=0: what `app.close()` alone did before). Each run: a `steady` stage of 3 s, SIGTERM, then a
// `draining` stage of 4 s, the time a load balancer takes to stop routing to the instance. Printed: requests and
// failures (non-200 answers and no answer at all) in each stage, and SIGTERM → exit.
//
//   npm run bench:shutdown
//   BENCH_RATE=500 npm run bench:shutdown

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '@headroom/dev-servers/postgres';
import { runParallel } from '../packages/cli/src/engine/parallel.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import { benchOperatorToken, startNode } from './lib/process.ts';

const rate = Number(process.env.BENCH_RATE ?? 1_000);
const steadySeconds = 3;
const drainingSeconds = 4;

async function login(origin: string): Promise<string> {
  const res = await fetch(`${origin}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
  });
  if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

interface Outcome {
  label: string;
  stages: {
    stage: string;
    requests: number;
    failed: number;
    codes: Record<string, number>;
    noAnswer: number;
  }[];
  exitCode: number | null;
  shutdownMs: number;
}

async function run(label: string, delayMs: number, databaseUrl: string, dir: string): Promise<Outcome> {
  const casebook = await startNode(join(import.meta.dirname, '..', 'apps/casebook/src/server.ts'), {
    env: {
      DATA_DIR: join(dir, `casebook-${delayMs}`),
      DATABASE_URL: databaseUrl,
      SEED_PROFILE: 'demo',
      PORT: '0',
      LOG_LEVEL: 'warn',
      QUOTA_SCALE: '1000',
      OPERATOR_TOKEN: benchOperatorToken,
      SHUTDOWN_DELAY_MS: String(delayMs),
    },
    ready: /casebook is ready at (http:\/\/\S+)/,
  });
  const origin = casebook.match!;
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${origin}/health/ready`)).ok) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const token = await login(origin);
  for (let i = 0; i < 3; i++) {
    await fetch(`${origin}/v1/cases/search?q=fraud`, { headers: { authorization: `Bearer ${token}` } });
  }
  const file = join(dir, `shutdown-${delayMs}.yaml`);
  await writeFile(
    file,
    [
      'name: shutdown',
      `target: ${origin}`,
      'seed: 15',
      'model: open',
      'timeout: 5s',
      'vars:',
      `  token: ${token}`,
      'stages:',
      `  - { name: steady, duration: ${steadySeconds}s, rate: ${rate}/s }`,
      `  - { name: draining, duration: ${drainingSeconds}s, rate: ${rate}/s }`,
      'flows:',
      '  - name: search',
      '    steps:',
      '      - method: GET',
      '        path: /v1/cases/search?q=fraud',
      '        headers: { authorization: "Bearer ${vars.token}" }',
      '        status: [200]',
    ].join('\n'),
  );
  let signalledAt = 0;
  let exitedAt = 0;
  const exited = new Promise<number | null>((resolve) =>
    casebook.child.once('exit', (code) => {
      exitedAt = performance.now();
      resolve(code);
    }),
  );
  // The engine starts its schedule ~200 ms after the call; SIGTERM when the draining stage begins.
  const timer = setTimeout(
    () => {
      signalledAt = performance.now();
      casebook.child.kill('SIGTERM');
    },
    200 + steadySeconds * 1000,
  );
  const result = await runParallel(await loadScenario(file), file, {
    workers: 1,
    routes: ['GET /v1/cases/search'],
    connections: 64,
    warmConnections: 16,
  });
  clearTimeout(timer);
  const exitCode = await exited;
  const shutdownMs = exitedAt - signalledAt;
  return {
    label,
    stages: result.cells.map((cell) => ({
      stage: cell.stage,
      requests: cell.count,
      failed: cell.count - Number(cell.codes['200'] ?? 0),
      codes: cell.codes,
      noAnswer: cell.networkErrors,
    })),
    exitCode,
    shutdownMs,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'headroom-bench-shutdown-'));
await chmod(dir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
const server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
try {
  await server.createDatabase('casebook');
  console.log(
    `shutdown bench (issue 15): SIGTERM at ${rate} cached searches/s, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  const ours = await run('headroom shutdown (SHUTDOWN_DELAY_MS=5000)', 5_000, server.url('casebook'), dir);
  const peer = await run('peer: close at once (SHUTDOWN_DELAY_MS=0)', 0, server.url('casebook'), dir);
  console.log('| run | stage | requests | failed | no answer | codes | exit | SIGTERM → exit |');
  console.log('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |');
  for (const o of [ours, peer]) {
    for (const s of o.stages) {
      console.log(
        `| ${o.label} | ${s.stage} | ${s.requests} | ${s.failed} | ${s.noAnswer} | ${JSON.stringify(s.codes)} | ${o.exitCode} | ${(o.shutdownMs / 1000).toFixed(2)} s |`,
      );
    }
  }
  const failed = (o: Outcome) => o.stages.reduce((n, s) => n + s.failed, 0);
  const total = (o: Outcome) => o.stages.reduce((n, s) => n + s.requests, 0);
  console.log(
    `\nheadroom: ${failed(ours)} of ${total(ours)} requests failed (goal 0) ${failed(ours) === 0 ? 'met' : 'NOT met'}; exit ${ours.exitCode}, SIGTERM → exit ${(ours.shutdownMs / 1000).toFixed(2)} s (delay 5 s + drain)`,
  );
  console.log(
    `peer (close at once): ${failed(peer)} of ${total(peer)} requests failed while a balancer would still route to it`,
  );
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
