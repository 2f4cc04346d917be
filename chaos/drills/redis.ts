// Redis killed: redis-server SIGKILLed under steady load and started again 20 s later (empty, same port). Not
// one request may fail meanwhile (casebook falls back to its in-process stores), no acknowledged write may be
// lost, and after the restart each instance must use Redis again on its own: B finds in L2 what A loaded, and a
// write on A reaches B's memory cache through the bus.
//
// Rate limits while Redis is down: each instance enforces its share of a tenant's quota (the quota / INSTANCES)
// in memory. The cluster raises every quota 1000 ×, so the drill lowers the free tier's (10/s, burst 1,000 in
// force) and sends the free tenant's requests to each instance directly, beyond its share, while Redis is down.

import { until } from '@headroom/dev-servers/until';
import { type Cluster, type Instance, metricsOf } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  type DrillResult,
  drillResult,
  failedCount,
  noWriteLost,
  sleepUntil,
  statusCounts,
} from '../drill.ts';
import { readMix, runLoad, steadyStages } from '../load.ts';
import { type ProbeAnswers, startProbe, startWriter, verifyWrites } from '../probe.ts';
import { type QuotaInForce, setFreeQuota } from '../settings.ts';

const goals = { backWithinMs: 15_000 };
/** The free tier's quota during the drill, before QUOTA_SCALE (× 1000): 10/s, burst 1,000. */
const drillQuota = { limit: 1, window: 100_000, burst: 1 };
/** The free tenant's requests to each instance while Redis is down: one every 4 ms, beyond its share. */
const overShareEveryMs = 4;

export const redisKill: Drill = {
  name: 'redis',
  proves:
    'redis-server SIGKILLed then restarted: 0 failed requests, rate limits keep each instance to its share, no write lost, L2 and the bus back on their own',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const freeToken = await cluster.login('analyst@initech.test');
    const { rows } = await cluster.pool.query<{ id: number }>(
      "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'initech' ORDER BY c.id LIMIT 1",
    );
    const freeCase = rows[0]!.id;
    const { quota, settings } = await setFreeQuota(cluster, freeToken, freeCase, drillQuota);
    try {
      return await killRedis(cluster, short, started, { token: freeToken, caseId: freeCase, quota });
    } finally {
      await settings.restore();
    }
  },
};

/** The free tenant while Redis is down: its token, a case of its own, and its quota in force. */
interface OverShare {
  token: string;
  caseId: number;
  quota: QuotaInForce;
}

async function killRedis(
  cluster: Cluster,
  short: boolean,
  started: number,
  free: OverShare,
): Promise<DrillResult> {
  const seconds = short ? { before: 2, down: 4, after: 6 } : { before: 5, down: 20, after: 15 };
  const rate = short ? 120 : 200;
  const token = await cluster.login();
  const readIds = cluster.caseIds.slice(60, 160);
  const writeIds = cluster.caseIds.slice(160, 170);
  // Cases nothing else reads: each L2 probe takes a fresh one.
  const probeIds = cluster.caseIds.slice(170);
  const notes: string[] = [];
  let fault: Promise<void> = Promise.resolve();
  let back: Promise<number | undefined> = Promise.resolve(undefined);
  let shares: ProbeAnswers[] = [];
  let sharesSeconds = 0;

  const writer = startWriter(cluster.url, token, writeIds, { drill: 'redis', everyMs: 100 });
  const result = await runLoad(
    {
      name: 'redis',
      target: cluster.url,
      stages: steadyStages(seconds, rate),
      flows: readMix(token),
      onStart: (startMs) => {
        fault = (async () => {
          await sleepUntil(startMs + seconds.before * 1000);
          await cluster.redis.kill();
          notes.push(`redis-server killed at ${((performance.now() - startMs) / 1000).toFixed(3)} s`);
          const overShare = cluster.instances.map((instance) =>
            startProbe(
              () => ({
                url: `${instance.url}/v1/cases/${free.caseId}`,
                init: { headers: { authorization: `Bearer ${free.token}` } },
              }),
              { everyMs: overShareEveryMs },
            ),
          );
          const sharesFrom = performance.now();
          // Stopped a second before the restart: every answer counted was decided without Redis.
          await sleepUntil(startMs + (seconds.before + seconds.down - 1) * 1000);
          shares = await Promise.all(overShare.map((probe) => probe.stop()));
          sharesSeconds = (performance.now() - sharesFrom) / 1000;
          await sleepUntil(startMs + (seconds.before + seconds.down) * 1000);
          await cluster.redis.start();
          const restarted = performance.now();
          notes.push(`redis-server started again at ${((restarted - startMs) / 1000).toFixed(3)} s`);
          back = usingRedisAgain(cluster, token, probeIds).then(
            () => performance.now() - restarted,
            (error: Error) => {
              notes.push(error.message);
              return undefined;
            },
          );
        })();
      },
    },
    { readIds, terms: ['fraud', 'phishing', 'chargeback', 'invoice', 'device'] },
  );
  await fault;
  const backMs = await back;
  const ledger = await writer.stop();
  await verifyWrites(cluster.pool, ledger);

  const statuses = addCounts(statusCounts(result.cells), ledger.statuses);
  const failed = failedCount(statuses);
  // Each instance's share of the quota, in memory: burst / INSTANCES up front, then rate / INSTANCES a second.
  const instances = cluster.instances.length;
  const share = Math.ceil(free.quota.burst / instances) + (free.quota.perSecond / instances) * sharesSeconds;
  const admitted = shares.map((answers) => answers.statuses['200'] ?? 0);
  const refused = shares.map((answers) => answers.statuses['429'] ?? 0);
  const sharesFailed = shares.reduce((n, answers) => n + failedCount(answers.statuses, [429]), 0);
  const withoutRetryAfter = shares.reduce((n, answers) => n + answers.refusalsWithoutRetryAfter, 0);
  const checks = [
    check(
      '0 failed requests',
      failed === 0,
      `${failed} of ${Object.values(statuses).reduce((a, b) => a + b, 0)} (load and writes)`,
    ),
    check(
      'rate limits: each instance to its share',
      shares.length === instances &&
        admitted.every((n, i) => n > 0 && n <= share * 1.05 + 5 && refused[i]! > 0) &&
        sharesFailed === 0 &&
        withoutRetryAfter === 0,
      `${cluster.instances.map((instance, i) => `${instance.name}: ${admitted[i] ?? 0} admitted, ${refused[i] ?? 0} × 429`).join('; ')} of initech's requests in ${sharesSeconds.toFixed(1)} s without Redis (share ${share.toFixed(0)}: ${free.quota.policy} / ${instances}); ${sharesFailed} otherwise answered, ${withoutRetryAfter} 429s without Retry-After`,
    ),
    noWriteLost(ledger),
    check(
      'L2 and the bus back on their own',
      backMs !== undefined && backMs <= goals.backWithinMs,
      backMs === undefined
        ? 'not within the wait'
        : `${(backMs / 1000).toFixed(1)} s after the restart (≤ ${goals.backWithinMs / 1000} s)`,
    ),
  ];
  return drillResult('redis', {
    checks,
    statuses: shares.reduce((all, answers) => addCounts(all, answers.statuses), statuses),
    failed: failed + sharesFailed,
    ledger,
    recoveryMs: backMs,
    durationMs: performance.now() - started,
    notes: [
      ...notes,
      `${rate} requests/s for ${seconds.before} + ${seconds.down} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}`,
    ],
  });
}

/**
 * Resolves once both halves of the shared cache work again: B reads from Redis an entry A just loaded (an L2
 * hit on B, no load of its own), and a PATCH on A evicts B's memory copy (B serves the new title). Polls on real
 * time, bounded.
 */
async function usingRedisAgain(cluster: Cluster, token: string, ids: readonly number[]): Promise<void> {
  const [a, b] = cluster.instances;
  const auth = { authorization: `Bearer ${token}` };
  const metric = async (instance: Instance, pattern: RegExp) => {
    const text = await metricsOf(cluster, instance);
    return Number(pattern.exec(text)?.[1] ?? 0);
  };
  const loads = (i: Instance) =>
    metric(i, /headroom_cache_loads_total\{cache="casebook",kind="load",outcome="ok"\} (\d+)/);
  const l2Hits = (i: Instance) =>
    metric(i, /headroom_cache_requests_total\{cache="casebook",tier="l2",result="hit"\} (\d+)/);
  const get = async (instance: Instance, path: string) => {
    const res = await fetch(`${instance.url}${path}`, { headers: auth });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path} on ${instance.name} answered ${res.status}`);
    return { body, etag: res.headers.get('etag') ?? '' };
  };
  let next = 0;
  const fresh = () => ids[next++ % ids.length]!;
  await until(
    async () => {
      const path = `/v1/cases/${fresh()}?expand=owner`;
      await get(a, path);
      const [hits, loaded] = [await l2Hits(b), await loads(b)];
      await get(b, path);
      return (await l2Hits(b)) > hits && (await loads(b)) === loaded;
    },
    { timeout: goals.backWithinMs, interval: 200, what: 'B to read from Redis an entry A loaded' },
  );
  const id = fresh();
  const { etag } = await get(b, `/v1/cases/${id}`);
  const title = `chaos redis bus ${Date.now()}`;
  const patched = await fetch(`${a.url}/v1/cases/${id}`, {
    method: 'PATCH',
    headers: { ...auth, 'content-type': 'application/json', 'if-match': etag },
    body: JSON.stringify({ title }),
  });
  if (patched.status !== 200) throw new Error(`PATCH on a answered ${patched.status}`);
  await until(
    async () => (JSON.parse((await get(b, `/v1/cases/${id}`)).body) as { title: string }).title === title,
    {
      timeout: 2_000,
      interval: 20,
      what: "B to serve A's write (the bus)",
    },
  );
}
