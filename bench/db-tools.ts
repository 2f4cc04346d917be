// How long `headroom db top` and `headroom db plans` take on the bench dataset (100k cases, 2M events), and what
// db top shows after casebook has served its golden path for a while: casebook in embedded mode (its own
// PostgreSQL with pg_stat_statements and auto_explain loaded) with SEED_PROFILE=bench and READ_CACHE=off, loaded
// with wrk on search, detail, timeline and comments, then each command run through the binary, BENCH_RUNS times.
//
//   npm run bench:db-tools      (BENCH_SECONDS=N of wrk per route, default 3; BENCH_RUNS=N, default 5)

import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wrk } from './lib/load.ts';
import { benchOperatorToken, startNode } from './lib/process.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const root = join(import.meta.dirname, '..');
const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-db-tools-'));
await chmod(dataDir, 0o711);
const casebook = await startNode(join(root, 'apps/casebook/src/server.ts'), {
  env: {
    PORT: '0',
    LOG_LEVEL: 'warn',
    QUOTA_SCALE: '1000',
    OPERATOR_TOKEN: benchOperatorToken,
    READ_CACHE: 'off',
    SEED_PROFILE: 'bench',
    DATA_DIR: dataDir,
  },
  ready: /casebook is ready at (http:\/\/\S+)/,
  timeoutMs: 600_000,
});
try {
  const base = casebook.match!;
  // The embedded server's port is the fourth line of its pid file.
  const pidFile = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
  const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${Number(pidFile.split('\n')[3])}/casebook`;
  const login = await fetch(`${base}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
  });
  const { token } = (await login.json()) as { token: string };
  const headers = { authorization: `Bearer ${token}` };
  const id = (
    (await (await fetch(`${base}/v1/cases/search?limit=1`, { headers })).json()) as { data: { id: number }[] }
  ).data[0]!.id;
  // The seeding's COPYs and index builds out of the way: the leaderboard is what the routes cost.
  execFileSync(
    process.execPath,
    [
      join(root, 'packages/cli/src/bin.ts'),
      'db',
      'top',
      '--database-url',
      databaseUrl,
      '--reset',
      '--limit',
      '1',
    ],
    { env: { ...process.env, NODE_OPTIONS: '--conditions=@headroom/source' }, stdio: 'ignore' },
  );
  for (const path of [
    '/v1/cases/search?q=fraud&limit=20',
    '/v1/cases/search?status=open&limit=20',
    `/v1/cases/${id}?expand=owner.team.org`,
    `/v1/cases/${id}/timeline?limit=20`,
    `/v1/cases/${id}/comments`,
  ]) {
    const r = wrk(`${base}${path}`, { seconds, connections: 16, headers });
    console.log(`loaded ${path}: ${Math.round(r.rps)} req/s, ${r.errors} non-2xx`);
  }
  const cli = (args: string[]) => {
    const started = performance.now();
    let output: string;
    try {
      output = execFileSync(process.execPath, [join(root, 'packages/cli/src/bin.ts'), 'db', ...args], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '--conditions=@headroom/source' },
        maxBuffer: 64 << 20,
      });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    return { ms: performance.now() - started, output };
  };
  const timed = (name: string, args: string[]) => {
    const times: number[] = [];
    let last = '';
    for (let i = 0; i < runs; i++) {
      const r = cli(args);
      times.push(r.ms);
      last = r.output;
    }
    times.sort((a, b) => a - b);
    console.log(
      `\nheadroom db ${name}: median ${Math.round(times[Math.floor(times.length / 2)]!)} ms, min ${Math.round(times[0]!)} ms, max ${Math.round(times.at(-1)!)} ms over ${runs} runs (process start included)`,
    );
    return last;
  };
  const queries = join(root, 'apps/casebook/db/queries.json');
  const top = timed('top', ['top', '--database-url', databaseUrl, '--queries', queries, '--limit', '10']);
  console.log(top);
  const plans = timed('plans', [
    'plans',
    '--database-url',
    databaseUrl,
    '--queries',
    queries,
    '--snapshot',
    join(root, 'apps/casebook/db/plans.json'),
  ]);
  console.log(plans.split('\n').slice(-6).join('\n'));
  console.log(timed('indexes', ['indexes', '--database-url', databaseUrl]));
} finally {
  await casebook.stop();
  await rm(dataDir, { recursive: true, force: true });
}
