// Upstream slow, then failing, then healthy: the enrichment simulator answers in 2 s, then 503 at once, then
// calmly again, under steady load on the route that calls it (GET /v1/cases/:id/suggestions, a case nobody asked
// for yet each time, so every request needs the upstream). Each instance's `enrichment` breaker must open, the
// route must answer from its fallback in ≤ 50 ms while open, /health must warn (200), and the breaker must close
// on its own after the healing.

import { defaultTuning } from '../../apps/casebook/src/suggestions/tuning.ts';
import type { Cluster, Instance } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  drillResult,
  failedCount,
  mergeCells,
  noWriteLost,
  sleepUntil,
  statusCounts,
} from '../drill.ts';
import { getFlow, runLoad, steadyStages } from '../load.ts';
import { startWriter, verifyWrites } from '../probe.ts';

const route = 'GET /v1/cases/:id/suggestions';
const breakerName = 'enrichment';
// The fallback's bound is headroom.yaml's note on the route. Closing: once healed, a breaker is open at most
// `halfOpenMax` (casebook.yaml's suggestions.breaker, 5 s as shipped) before its probes, which pass with the
// next 3 calls (a tenth of a second at this load); 1 s more covers those and the 100 ms polling.
const goals = { fallbackP99Ms: 50, closeWithinMs: defaultTuning.halfOpenMaxMs + 1_000 };
const pollEveryMs = 100;

/** The simulator's behaviour in each phase (apps/enrichment-sim: `PUT /_control`). */
const behaviours = {
  slow: { latencyMs: 2_000, jitterMs: 0, failureRate: 0, hangRate: 0 },
  failing: { latencyMs: 5, jitterMs: 5, failureRate: 1, hangRate: 0 },
  healthy: { latencyMs: 5, jitterMs: 5, failureRate: 0, hangRate: 0 },
};

/** One look at an instance: its breaker's state and what /health said. */
interface Sample {
  /** ms from the first stage's start. */
  t: number;
  instance: string;
  state: string;
  healthCode: number;
  health: string;
  breakerCheck: string | undefined;
}

export const upstream: Drill = {
  name: 'upstream',
  proves:
    'enrichment upstream slow (2 s), then failing, then healthy: the breaker opens, the fallback answers in ≤ 50 ms while open, /health warns, the breaker closes on its own after the healing',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short
      ? { before: 3, slow: 5, failing: 5, healed: 9 }
      : { before: 5, slow: 10, failing: 15, healed: 15 };
    const rate = short ? 60 : 100;
    const token = await cluster.login();
    // Every case of the tenant: picked at random, almost each request asks for a case not yet in the cache.
    const { rows } = await cluster.pool.query<{ id: number }>(
      "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id",
    );
    const suggestionIds = rows.map((row) => row.id).slice(200);
    const writeIds = cluster.caseIds.slice(65, 75);
    const slowAt = seconds.before * 1000;
    const failAt = slowAt + seconds.slow * 1000;
    const healAt = failAt + seconds.failing * 1000;
    const notes: string[] = [];
    const samples: Sample[] = [];
    const upstreamCalls: { failing?: number; healed?: number } = {};
    let fault: Promise<void> = Promise.resolve();
    let watching = true;
    let watch: Promise<void> = Promise.resolve();

    const writer = startWriter(cluster.url, token, writeIds, { drill: 'upstream', everyMs: 100 });
    let result: Awaited<ReturnType<typeof runLoad>>;
    try {
      result = await runLoad(
        {
          name: 'upstream',
          target: cluster.url,
          stages: steadyStages(seconds, rate),
          flows: [getFlow(route, `/v1/cases/\${pick(vars.suggestionIds)}/suggestions`, token)],
          onStart: (startMs) => {
            const at = () => ((performance.now() - startMs) / 1000).toFixed(3);
            watch = (async () => {
              while (watching) {
                const next = performance.now() + pollEveryMs;
                const t = performance.now() - startMs;
                samples.push(...(await Promise.all(cluster.instances.map((i) => look(cluster, i, t)))));
                await sleepUntil(next);
              }
            })();
            fault = (async () => {
              await sleepUntil(startMs + slowAt);
              await control(cluster, behaviours.slow);
              notes.push(`upstream slow (2 s) at ${at()} s`);
              await sleepUntil(startMs + failAt);
              const before = await upstreamRequests(cluster);
              await control(cluster, behaviours.failing);
              notes.push(`upstream failing (503) at ${at()} s`);
              await sleepUntil(startMs + healAt);
              await control(cluster, behaviours.healthy);
              const healed = await upstreamRequests(cluster);
              upstreamCalls.failing = healed - before;
              notes.push(`upstream healthy at ${at()} s`);
            })();
          },
        },
        { suggestionIds },
      );
      await fault;
    } finally {
      watching = false;
      await watch;
      // Whatever happened, the next drill finds the upstream calm.
      await control(cluster, behaviours.healthy);
    }
    const ledger = await writer.stop();
    await verifyWrites(cluster.pool, ledger);

    const byInstance = cluster.instances.map((i) => samples.filter((s) => s.instance === i.name));
    const isOpen = (s: Sample) => s.state === 'open' || s.state === 'half-open';
    // When each instance's breaker was first seen open after the upstream went slow (ms from then).
    const openedMs = byInstance.map((list) => {
      const first = list.find((s) => s.t >= slowAt && isOpen(s));
      return first === undefined ? undefined : first.t - slowAt;
    });
    const failingSamples = samples.filter((s) => s.t >= failAt && s.t < healAt);
    const openThroughFailing = failingSamples.length > 0 && failingSamples.every(isOpen);
    // Warned: seen open with /health answering 200, status warn, its breaker check warn.
    const warned = byInstance.map((list) =>
      list.some((s) => isOpen(s) && s.healthCode === 200 && s.health === 'warn' && s.breakerCheck === 'warn'),
    );
    const healthWhileOpen = countBy(
      samples.filter(isOpen),
      (s) => `${s.healthCode} ${s.health} (breaker ${s.breakerCheck})`,
    );
    // Closed for good: the first look after the healing from which every later look saw it closed.
    const closedMs = byInstance.map((list) => {
      const after = list.filter((s) => s.t >= healAt);
      const lastOpen = after.findLastIndex((s) => s.state !== 'closed');
      const closed = after[lastOpen + 1];
      return closed === undefined ? undefined : closed.t - healAt;
    });
    const closeMs = closedMs.every((ms) => ms !== undefined) ? Math.max(...closedMs) : undefined;
    const passingAfter = byInstance.map((list) => list.at(-1)?.breakerCheck === 'pass');

    const cell = (stage: string) =>
      mergeCells(
        result.cells.filter((c) => c.route === route && c.stage === stage),
        stage,
      );
    const failing = cell('failing');
    failing.corrected.add(failing.refused);
    const fallbackP99 = failing.percentileMs(99);
    const slow = cell('slow');
    slow.corrected.add(slow.refused);
    const statuses = addCounts(statusCounts(result.cells), ledger.statuses);
    const failed = failedCount(statuses);
    const fmtMs = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);
    const names = cluster.instances.map((i) => i.name);

    const checks = [
      check(
        'the breaker opens',
        openedMs.every((ms) => ms !== undefined),
        names.map((n, i) => `${n} ${fmtMs(openedMs[i])}`).join(', ') +
          ' after the upstream went slow (first look that saw it open)',
      ),
      check(
        `fallback ≤ ${goals.fallbackP99Ms} ms while open`,
        openThroughFailing && failing.count > 0 && fallbackP99 <= goals.fallbackP99Ms,
        `p99 ${fallbackP99.toFixed(1)} ms, max ${(failing.corrected.maxValue / 1000).toFixed(0)} ms over ${failing.count} answers of the failing stage (from the intended start); breaker ${openThroughFailing ? 'open or half-open' : 'not open'} at every look then; the upstream got ${upstreamCalls.failing ?? '?'} calls meanwhile`,
      ),
      check(
        '/health warns while open',
        warned.every(Boolean),
        `${names.map((n, i) => `${n} ${warned[i] ? 'warned' : 'did not warn'}`).join(', ')}; looks while open: ${fmtCounts(healthWhileOpen)}`,
      ),
      check(
        `closes ≤ ${goals.closeWithinMs / 1000} s after healing`,
        closeMs !== undefined && closeMs <= goals.closeWithinMs && passingAfter.every(Boolean),
        `${names.map((n, i) => `${n} ${fmtMs(closedMs[i])}`).join(', ')} after the upstream healed; /health's breaker check at the end: ${passingAfter.map((ok) => (ok ? 'pass' : 'not pass')).join(', ')}`,
      ),
      check('every answer 2xx', failed === 0, `${failed} of the load and the writes otherwise or none`),
      noWriteLost(ledger),
    ];
    return drillResult('upstream', {
      checks,
      statuses,
      failed,
      ledger,
      recoveryMs: closeMs,
      durationMs: performance.now() - started,
      notes: [
        ...notes,
        `while slow (the breaker closed, then open): p99 ${slow.percentileMs(99).toFixed(0)} ms, max ${(slow.corrected.maxValue / 1000).toFixed(0)} ms over ${slow.count} answers (attempt timeout ${defaultTuning.attemptTimeoutMs} ms, ${defaultTuning.totalTimeoutMs} ms in all)`,
        `${rate} requests/s for ${seconds.before} + ${seconds.slow} + ${seconds.failing} + ${seconds.healed} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; ${samples.length} looks at the breakers`,
      ],
    });
  },
};

async function control(cluster: Cluster, behaviour: (typeof behaviours)['healthy']): Promise<void> {
  const res = await fetch(`${cluster.simulator}/_control`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(behaviour),
  });
  if (res.status !== 200) throw new Error(`PUT /_control answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

async function upstreamRequests(cluster: Cluster): Promise<number> {
  const res = await fetch(`${cluster.simulator}/_stats`);
  return ((await res.json()) as { requests: number }).requests;
}

/** The instance's enrichment breaker state and its /health answer, each bounded in time. */
async function look(cluster: Cluster, instance: Instance, t: number): Promise<Sample> {
  const get = async (path: string) => {
    const res = await fetch(`${instance.url}${path}`, {
      headers: cluster.operatorHeaders,
      signal: AbortSignal.timeout(2_000),
    });
    return { code: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const [breakers, health] = await Promise.all([
    get('/admin/breakers').catch(() => undefined),
    get('/health').catch(() => undefined),
  ]);
  const list = (breakers?.body.data ?? []) as { name: string; state: string }[];
  const checks = (health?.body.checks ?? {}) as Record<string, { status: string }[]>;
  return {
    t,
    instance: instance.name,
    state: list.find((b) => b.name === breakerName)?.state ?? 'unknown',
    healthCode: health?.code ?? 0,
    health: String(health?.body.status ?? 'none'),
    breakerCheck: checks[`breaker:${breakerName}`]?.[0]?.status,
  };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function fmtCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([what, n]) => `${n} × ${what}`).join(', ');
}
