// What a transaction pooler costs (or saves) casebook's uncached reads, in one run, with wrk: casebook with 100
// database clients (DB_POOL_MAX=100) straight to PostgreSQL (100 backends), against the same casebook through
// a real PgBouncer in transaction mode with 10 server connections (10× the pool size in client connections),
// and, for reference, straight to PostgreSQL with 10 clients. READ_CACHE=off: every request reaches the
// database; OVERLOAD_LIMIT=off: the pools, not casebook's concurrency door, decide who waits.
//
//   npm run bench:db-pgbouncer     (BENCH_SECONDS=N per wrk run, default 4; BENCH_ROUNDS=N, default 5;
//                                   BENCH_CONNECTIONS=N HTTP connections, default 100)

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPgBouncer } from '@headroom/dev-servers/pgbouncer';
import { startPostgres } from '@headroom/dev-servers/postgres';
import { type WrkResult, wrk } from './lib/load.ts';
import {
  benchOperatorToken,
  operatorHeaders,
  pinThisProcess,
  type Started,
  startNode,
} from './lib/process.ts';

/**
 * What the instance counted of a route, from its /metrics: answers by status code (`http_requests_total`), and
 * the cumulative buckets of its 200s' durations (`http_request_duration_seconds`, `le` in seconds → count).
 */
async function answers(base: string, route: string): Promise<Map<string, number>> {
  const template = route === 'detail' ? '/v1/cases/:id' : '/v1/cases/search';
  const text = await (await fetch(`${base}/metrics`, { headers: operatorHeaders })).text();
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.includes(`route="${template}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('http_requests_total{')) {
      const code = /code="(\d+)"/.exec(line)?.[1];
      if (code) found.set(code, (found.get(code) ?? 0) + value);
    } else if (line.startsWith('http_request_duration_seconds_bucket{') && line.includes('code="200"')) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le) found.set(`le ${le}`, (found.get(`le ${le}`) ?? 0) + value);
    }
  }
  return found;
}

/** The 99th percentile of the 200s in ms, interpolated within the histogram bucket it falls in. */
function p99Of(counted: Map<string, number>): number | undefined {
  const buckets = [...counted]
    .filter(([key]) => key.startsWith('le '))
    .map(([key, n]) => [key === 'le +Inf' ? Infinity : Number(key.slice(3)), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = 0.99 * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of buckets) {
    if (n >= rank) {
      if (le === Infinity) return lower * 1000;
      return (lower + ((rank - below) / Math.max(n - below, 1)) * (le - lower)) * 1000;
    }
    lower = le;
    below = n;
  }
  return undefined;
}

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 100);
const clients = 100;
const serverConnections = 10;
const root = join(import.meta.dirname, '..');
const server = join(root, 'apps/casebook/src/server.ts');
const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-pgbouncer-'));
await chmod(dataDir, 0o711);
// Casebook on CPU 0, wrk on CPU 1; PostgreSQL and PgBouncer where the kernel puts them (as in production, they
// compete with the service).
const pinned = pinThisProcess('1');
const postgres = await startPostgres({ dataDir: join(dataDir, 'pg'), ephemeral: true });
const bouncer = await startPgBouncer({
  upstream: { host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password },
  poolMode: 'transaction',
  poolSize: serverConnections,
});
const started: Started[] = [];
try {
  await postgres.createDatabase('casebook');
  const common = {
    PORT: '0',
    LOG_LEVEL: 'warn',
    QUOTA_SCALE: '1000',
    OPERATOR_TOKEN: benchOperatorToken,
    READ_CACHE: 'off',
    OVERLOAD_LIMIT: 'off',
    DATA_DIR: join(dataDir, 'casebook'),
  };
  const variants: { name: string; server: Started }[] = [];
  const add = async (name: string, env: Record<string, string>) => {
    const s = await startNode(server, {
      env: { ...common, ...env },
      ready: /casebook is ready at (http:\/\/\S+)/,
      timeoutMs: 300_000,
      cpus: '0',
    });
    started.push(s);
    variants.push({ name, server: s });
  };
  const direct = postgres.url('casebook');
  await add(`direct, ${clients} clients`, { DATABASE_URL: direct, DB_POOL_MAX: String(clients) });
  await add(`PgBouncer (${serverConnections} server connections), ${clients} clients`, {
    DATABASE_URL: bouncer.url('casebook'),
    DATABASE_DIRECT_URL: direct,
    DB_POOL_MAX: String(clients),
  });
  await add(`direct, ${serverConnections} clients`, {
    DATABASE_URL: direct,
    DB_POOL_MAX: String(serverConnections),
  });
  // What the pooler setting alone costs: statements unnamed (parsed and planned on every call), no PgBouncer.
  await add(`direct, ${serverConnections} clients, unnamed statements`, {
    DATABASE_URL: direct,
    DATABASE_DIRECT_URL: direct,
    DB_POOL_MAX: String(serverConnections),
  });

  const base = variants[0]!.server.match!;
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
  const paths = {
    detail: `/v1/cases/${id}?expand=owner.team.org`,
    search: '/v1/cases/search?q=fraud&limit=20',
  };
  console.log(
    `wrk -t1 -c${connections} -d${seconds}s, ${rounds} alternating rounds each${pinned ? '; casebook on CPU 0, wrk on CPU 1' : ''}; READ_CACHE=off. ` +
      "2xx/s and their p99 over all rounds from each instance's /metrics (histogram, interpolated in its bucket); wrk's figures are its best round and count 503s too.",
  );
  for (const [route, path] of Object.entries(paths)) {
    for (const v of variants) wrk(`${v.server.match}${path}`, { seconds: 2, connections, headers }); // warm
    const runs = new Map(variants.map((v) => [v.name, [] as WrkResult[]]));
    const statuses = new Map(variants.map((v) => [v.name, new Map<string, number>()]));
    for (let i = 0; i < rounds; i++) {
      for (const v of variants) {
        const before = await answers(v.server.match!, route);
        runs.get(v.name)!.push(wrk(`${v.server.match}${path}`, { seconds, connections, headers }));
        const after = await answers(v.server.match!, route);
        const counted = statuses.get(v.name)!;
        for (const [code, n] of after)
          counted.set(code, (counted.get(code) ?? 0) + n - (before.get(code) ?? 0));
      }
    }
    const best = (name: string) => runs.get(name)!.reduce((a, b) => (b.rps > a.rps ? b : a));
    console.log(`\n${route}: GET ${path}`);
    console.log(
      '| casebook | 2xx/s | ÷ direct 100 | p99 of 2xx ms (server) | answers/s (wrk) | p99 ms (wrk, all answers) | answers (all rounds) |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
    const goodput = (name: string) => (statuses.get(name)!.get('200') ?? 0) / (rounds * seconds);
    const reference = goodput(variants[0]!.name);
    for (const v of variants) {
      const r = best(v.name);
      const counted = statuses.get(v.name)!;
      const codes = [...counted].filter(([key, n]) => n > 0 && !key.startsWith('le ')).sort();
      const answered = codes.map(([code, n]) => `${code}: ${n}`).join(', ');
      const p99 = p99Of(counted);
      console.log(
        `| ${v.name} | ${Math.round(goodput(v.name))} | ${(goodput(v.name) / reference).toFixed(3)} | ${p99 === undefined ? '-' : p99.toFixed(1)} | ${Math.round(r.rps)} | ${r.p99Ms} | ${answered} |`,
      );
    }
  }
} finally {
  for (const s of started.reverse()) await s.stop();
  await bouncer.close();
  await postgres.stop();
  await rm(dataDir, { recursive: true, force: true });
}
