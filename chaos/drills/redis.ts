// Redis killed: redis-server SIGKILLed under steady load and started again 20 s later (empty, same port). Not
// one request may fail meanwhile (casebook falls back to its in-process stores), no acknowledged write may be
// lost, and after the restart each instance must use Redis again on its own: B finds in L2 what A loaded, and a
// write on A reaches B's memory cache through the bus.

import { until } from '@headroom/dev-servers/until';
import type { Cluster, Instance } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  drillResult,
  failedCount,
  noWriteLost,
  sleepUntil,
  statusCounts,
} from '../drill.ts';
import { readMix, runLoad } from '../load.ts';
import { startWriter, verifyWrites } from '../probe.ts';

const goals = { backWithinMs: 15_000 };

export const redisKill: Drill = {
  name: 'redis',
  proves:
    'redis-server SIGKILLed then restarted: 0 failed requests, no write lost, L2 and the bus back on their own',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
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

    const writer = startWriter(cluster.url, token, writeIds, { drill: 'redis', everyMs: 100 });
    const result = await runLoad(
      {
        name: 'redis',
        target: cluster.url,
        stages: [
          { name: 'before', seconds: seconds.before, rate },
          { name: 'down', seconds: seconds.down, rate },
          { name: 'after', seconds: seconds.after, rate },
        ],
        flows: readMix(token),
        onStart: (startMs) => {
          fault = (async () => {
            await sleepUntil(startMs + seconds.before * 1000);
            await cluster.redis.kill();
            notes.push(`redis-server killed at ${((performance.now() - startMs) / 1000).toFixed(3)} s`);
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
    const checks = [
      check(
        '0 failed requests',
        failed === 0,
        `${failed} of ${Object.values(statuses).reduce((a, b) => a + b, 0)} (load and writes)`,
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
      statuses,
      failed,
      ledger,
      recoveryMs: backMs,
      durationMs: performance.now() - started,
      notes: [
        ...notes,
        `${rate} requests/s for ${seconds.before} + ${seconds.down} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}`,
      ],
    });
  },
};

/**
 * Resolves once both halves of the shared cache work again: B reads from Redis an entry A just loaded (an L2
 * hit on B, no load of its own), and a PATCH on A evicts B's memory copy (B serves the new title). Polls on real
 * time, bounded.
 */
async function usingRedisAgain(cluster: Cluster, token: string, ids: readonly number[]): Promise<void> {
  const [a, b] = cluster.instances;
  const auth = { authorization: `Bearer ${token}` };
  const metric = async (instance: Instance, pattern: RegExp) => {
    const text = await (await fetch(`${instance.url}/metrics`, { headers: cluster.operatorHeaders })).text();
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
