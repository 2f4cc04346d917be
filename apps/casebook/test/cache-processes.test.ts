// Drills with real processes: two casebook server.ts processes on one real redis-server share one cache.
// 2 × 500 concurrent misses → exactly one load; a write on A reaches B's L1 within 100 ms; redis-server
// killed during a request loop → no failed request; restarted → L2 in use again without restarting casebook.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis } from '@headroom/dev-servers/redis';
import { until } from '@headroom/dev-servers/until';
import { profiles, seed } from '../src/seed/index.ts';
import { operatorHeaders } from './support/app.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { type ServerProcess, startServerProcess } from './support/server-process.ts';

const redis = await startRedis();
let db: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;
let token: string;
let caseIds: number[];

before(async () => {
  db = await createTestDatabase({ migrated: true });
  await seed(db.pool, profiles.test);
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    QUOTA_SCALE: '1000',
    ENRICHMENT_URL: 'http://127.0.0.1:9',
    // These drills count cache loads under a burst of 1,000 requests at once; the door would (rightly) refuse
    // what it cannot serve within its queue deadline on a busy machine. Its own behaviour is tested apart.
    OVERLOAD_LIMIT: 'off',
  };
  [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  const login = await fetch(`${a.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
  });
  token = ((await login.json()) as { token: string }).token;
  const { rows } = await db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 50",
  );
  caseIds = rows.map((r) => r.id);
  // Authenticate once on each process, so the loads counted below are the case's alone.
  await Promise.all([get(a, '/v1/me'), get(b, '/v1/me')]);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await db.close();
  await redis.stop();
});

const get = (server: ServerProcess, path: string) =>
  fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

async function metric(server: ServerProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: operatorHeaders })).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}
const cacheStats = async (server: ServerProcess) =>
  JSON.stringify(
    (
      (await (await fetch(`${server.url}/admin/caches`, { headers: operatorHeaders })).json()) as {
        data: unknown[];
      }
    ).data,
  );
const loads = (server: ServerProcess) =>
  metric(server, /headroom_cache_loads_total\{cache="casebook",kind="load",outcome="ok"\} (\d+)/);
const l2Hits = (server: ServerProcess) =>
  metric(server, /headroom_cache_requests_total\{cache="casebook",tier="l2",result="hit"\} (\d+)/);

test('two processes × 500 concurrent misses on one Redis: exactly one load in total', async () => {
  const path = `/v1/cases/${caseIds[0]}?expand=owner.team.org`;
  const before = (await loads(a)) + (await loads(b));
  const responses = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      get(i % 2 === 0 ? a : b, path).then(async (r) => [r.status, await r.text()]),
    ),
  );
  assert.ok(responses.every(([status]) => status === 200));
  assert.equal(new Set(responses.map(([, body]) => body)).size, 1, 'every caller got the same bytes');
  const total = (await loads(a)) + (await loads(b)) - before;
  console.log(`# stampede: 2 processes × 500 concurrent misses → ${total} load(s)`);
  assert.equal(total, 1, `loads: ${total}; cache stats: ${await cacheStats(a)} / ${await cacheStats(b)}`);
});

test("a write on A reaches B's L1 through the bus: B serves the new value within 100 ms", async () => {
  const id = caseIds[1]!;
  await get(b, `/v1/cases/${id}`);
  const cached = await get(b, `/v1/cases/${id}`);
  const etag = cached.headers.get('etag')!;
  const patched = await fetch(`${a.url}/v1/cases/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-match': etag },
    body: JSON.stringify({ title: 'Renamed on instance A' }),
  });
  assert.equal(patched.status, 200);
  const written = performance.now();
  let seenAfter = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 500; i++) {
    const body = (await (await get(b, `/v1/cases/${id}`)).json()) as { title: string };
    if (body.title === 'Renamed on instance A') {
      seenAfter = performance.now() - written;
      break;
    }
  }
  console.log(`# invalidation: B served A's write ${seenAfter.toFixed(1)} ms after A answered the PATCH`);
  assert.ok(seenAfter <= 100, `B served the new title after ${seenAfter.toFixed(1)} ms`);
});

test('redis-server killed during a request loop: 0 failed requests; restarted: L2 in use again', async () => {
  const paths = caseIds.slice(10, 20).map((id) => `/v1/cases/${id}`);
  const statuses: number[] = [];
  for (let i = 0; i < 300; i++) {
    if (i === 100) await redis.kill();
    const server = i % 2 === 0 ? a : b;
    statuses.push((await get(server, paths[i % paths.length]!)).status);
  }
  assert.deepEqual([...new Set(statuses)], [200], 'every request answered while Redis died');

  await redis.start();
  // Recovery is automatic: keep reading fresh keys until B finds A's loads in L2 (the reconnect and the
  // breaker's probe run on real time, so this waits on a condition, bounded, never a fixed delay).
  let next = 20;
  await until(
    async () => {
      const path = `/v1/cases/${caseIds[next++ % caseIds.length]}?expand=owner`;
      assert.equal((await get(a, path)).status, 200);
      const hitsBefore = await l2Hits(b);
      const loadsBefore = await loads(b);
      assert.equal((await get(b, path)).status, 200);
      return (await l2Hits(b)) > hitsBefore && (await loads(b)) === loadsBefore;
    },
    {
      timeout: 15_000,
      interval: 200,
      what: 'B to read an entry A loaded, from Redis, without loading it itself',
    },
  );
});
