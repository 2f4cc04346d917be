// A restart drill: a server between casebook and its data (PostgreSQL itself, or the PgBouncer in front of it)
// stopped under steady load with keyed writes, down for a while, then started again on the same port. The pools
// must reconnect on their own (all 2xx again ≤ 5 s after it accepts connections), no request may hang (every
// answer within the pool's bounds, refusals 503 with Retry-After), and every write casebook acknowledged must be
// in PostgreSQL afterwards (read straight from PostgreSQL, whatever a pooler said).

import type { Cluster } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  drillResult,
  failedCount,
  formatCounts,
  mergeCells,
  noWriteLost,
  secondsUntilClean,
  sleepUntil,
  statusCounts,
  uncachedTimeline,
  warmEveryInstance,
} from '../drill.ts';
import { getFlow, runLoad, steadyStages } from '../load.ts';
import { startProbe, startWriter, verifyWrites } from '../probe.ts';

const cachedRoute = 'GET /v1/cases/:id';
const uncachedRoute = 'GET /v1/cases/:id/timeline';
// Every answer within casebook's pool bounds (apps/casebook/src/db/pool.ts): a connection is waited for at most
// 1 s (acquireTimeout) and a statement runs at most 2 s (statementTimeout); a stopped server refuses at once.
// Recovery: the connect breaker probes once a second (db/database.ts), so 5 s leaves room for the pools'
// fresh connections and the one-second resolution of the timeline.
const goals = { p99Ms: 1_000, maxMs: 2_000, recoverySeconds: 5 };

/** What a restart drill stops and starts. */
export interface RestartTarget {
  name: string;
  proves: string;
  /** How the notes name it: `PostgreSQL`, `PgBouncer`. */
  server: string;
  /** How it is stopped, for the notes: `fast shutdown (SIGINT)`. */
  how: string;
  /** The server of `cluster` to stop and start. */
  of(cluster: Cluster): { stop(): Promise<void>; start(): Promise<void> };
  /** Cases this drill's writer comments on: apart from other drills'. */
  writeIds: (cluster: Cluster) => number[];
}

/**
 * A restart drill of `target`.
 *
 * @example
 * export const postgresRestart = restartDrill({ name: 'postgres-restart', server: 'PostgreSQL', … });
 */
export function restartDrill(target: RestartTarget): Drill {
  return {
    name: target.name,
    proves: target.proves,
    run: (cluster, options) => runRestart(target, cluster, options),
  };
}

async function runRestart(target: RestartTarget, cluster: Cluster, { short }: { short: boolean }) {
  const server = target.of(cluster);
  const started = performance.now();
  const seconds = short ? { before: 3, down: 4, after: 8 } : { before: 5, down: 15, after: 10 };
  const rate = short ? 120 : 200;
  const token = await cluster.login();
  const cachedIds = cluster.caseIds.slice(0, 5);
  const pageIds = cluster.caseIds.slice(5, 45);
  const writeIds = target.writeIds(cluster);

  // The cached reads in both instances' caches before the fault.
  await warmEveryInstance(
    cluster,
    token,
    cachedIds.map((id) => `/v1/cases/${id}?expand=owner`),
  );

  const stopAt = seconds.before * 1000;
  const startAt = (seconds.before + seconds.down) * 1000;
  let fault: Promise<void> = Promise.resolve();
  // When the server accepted connections again, in ms from the first stage's start.
  let acceptingAt: number | undefined;
  const notes: string[] = [];
  const writer = startWriter(cluster.url, token, writeIds, { drill: target.name, everyMs: 100 });
  const probe = startProbe(
    () => ({
      url: `${cluster.url}${uncachedTimeline(pageIds[0]!)}`,
      init: { headers: { authorization: `Bearer ${token}` } },
    }),
    { everyMs: 100 },
  );
  const result = await runLoad(
    {
      name: target.name,
      target: cluster.url,
      stages: steadyStages(seconds, rate),
      flows: [
        getFlow(cachedRoute, `/v1/cases/\${pick(vars.cachedIds)}?expand=owner`, token, 40),
        getFlow(uncachedRoute, uncachedTimeline('${pick(vars.pageIds)}'), token, 60),
      ],
      onStart: (startMs) => {
        const at = () => ((performance.now() - startMs) / 1000).toFixed(3);
        fault = (async () => {
          await sleepUntil(startMs + stopAt);
          notes.push(`${target.server} ${target.how} at ${at()} s`);
          await server.stop();
          notes.push(`${target.server} exited at ${at()} s`);
          await sleepUntil(startMs + startAt);
          notes.push(`${target.server} started again at ${at()} s`);
          await server.start();
          acceptingAt = performance.now() - startMs;
          notes.push(`${target.server} accepts connections at ${at()} s`);
        })();
      },
    },
    { cachedIds, pageIds },
  );
  await fault;
  const [ledger, probed] = await Promise.all([writer.stop(), probe.stop()]);
  await verifyWrites(cluster.pool, ledger);

  const cached = statusCounts(result.cells.filter((c) => c.route === cachedRoute));
  const all = mergeCells(result.cells, 'all');
  // Refused and admitted answers together: every answer must come within the bound.
  all.corrected.add(all.refused);
  const p99 = all.percentileMs(99);
  const maxMs = all.corrected.maxValue / 1000;
  const refusedWhileDown = statusCounts(result.cells.filter((c) => c.stage === 'down'))['503'] ?? 0;
  const recovery = acceptingAt === undefined ? undefined : secondsUntilClean(result.timeline, acceptingAt);
  const statuses = addCounts(addCounts(statusCounts(result.cells), ledger.statuses), probed.statuses);
  const failed = failedCount(statuses, [503]);
  const refusalsWithout = ledger.refusalsWithoutRetryAfter + probed.refusalsWithoutRetryAfter;

  const checks = [
    check(
      'only 2xx or 503',
      failed === 0,
      `${failed} answers otherwise or none (load: ${formatCounts(statusCounts(result.cells))}; ${refusedWhileDown} × 503 while down)`,
    ),
    check(
      'cached reads answer throughout',
      failedCount(cached) === 0,
      `${formatCounts(cached)} (case detail, in both instances' caches)`,
    ),
    check(
      `no hang: p99 ≤ ${goals.p99Ms} ms, max ≤ ${goals.maxMs} ms`,
      all.count > 0 && p99 <= goals.p99Ms && maxMs <= goals.maxMs,
      `p99 ${p99.toFixed(0)} ms, max ${maxMs.toFixed(0)} ms over the run, refusals included (from the intended start); slowest probe ${slowest(probed.slowestMs)} ms, slowest write ${slowest(ledger.slowestMs)} ms`,
    ),
    check(
      'Retry-After on refusals',
      refusalsWithout === 0,
      `${refusalsWithout} of the probes' and writes' 429/503 without it (probes: ${formatCounts(probed.statuses)}; writes: ${formatCounts(ledger.statuses)})`,
    ),
    noWriteLost(ledger),
    check(
      `all 2xx ≤ ${goals.recoverySeconds} s after it accepts connections`,
      recovery !== undefined && recovery <= goals.recoverySeconds,
      recovery === undefined ? 'never within the run' : `${recovery.toFixed(1)} s (1 s resolution)`,
    ),
  ];
  return drillResult(target.name, {
    checks,
    statuses,
    failed,
    ledger,
    recoveryMs: recovery === undefined ? undefined : recovery * 1000,
    durationMs: performance.now() - started,
    notes: [
      ...probed.unexpected.map((line) => `probe saw: ${line}`),
      ...notes,
      `${rate} requests/s for ${seconds.before} + ${seconds.down} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; late starts ${result.stages.reduce((n, s) => n + s.lateStarts, 0)}`,
    ],
  });
}

/** The slowest answer of any status, in whole ms. */
function slowest(byStatus: Record<string, number>): number {
  return Math.round(Math.max(0, ...Object.values(byStatus)));
}
