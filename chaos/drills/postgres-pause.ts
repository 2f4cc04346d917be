// PostgreSQL pause: every PostgreSQL process stopped (SIGSTOP) for 15 s under steady load, then resumed. Cached
// routes must keep answering (stale allowed), database work must get a 503 with Retry-After within 1 s and never
// hang, every acknowledged write must be in PostgreSQL afterwards, and answers must be all 2xx again ≤ 5 s after
// the resume.

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
import { getFlow, runLoad } from '../load.ts';
import { startProbe, startWriter, verifyWrites } from '../probe.ts';

const cachedRoutes = ['GET /v1/cases/:id', 'GET /v1/cases/search'];
const uncachedRoute = 'GET /v1/cases/:id/timeline';
const terms = ['fraud', 'phishing', 'chargeback'];
const goals = { answerMs: 1_000, recoverySeconds: 5 };

export const postgresPause: Drill = {
  name: 'postgres-pause',
  proves:
    'PostgreSQL stopped (SIGSTOP) then resumed: cached routes keep answering, others get 503 + Retry-After within 1 s, no write lost, all 2xx again ≤ 5 s after',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short ? { before: 3, frozen: 4, after: 6 } : { before: 5, frozen: 15, after: 10 };
    const rate = short ? 120 : 200;
    const token = await cluster.login();
    const cachedIds = cluster.caseIds.slice(0, 5);
    const pageIds = cluster.caseIds.slice(5, 45);
    const writeIds = cluster.caseIds.slice(45, 55);

    // The cached reads in both instances' caches before the fault, as for data users were just reading.
    await warmEveryInstance(cluster, token, [
      ...cachedIds.map((id) => `/v1/cases/${id}?expand=owner`),
      ...terms.map((q) => `/v1/cases/search?q=${q}&limit=20`),
    ]);

    const freezeAt = seconds.before * 1000;
    const thawAt = (seconds.before + seconds.frozen) * 1000;
    let fault: Promise<void> = Promise.resolve();
    const notes: string[] = [];
    const writer = startWriter(cluster.url, token, writeIds, { drill: 'postgres-pause', everyMs: 100 });
    const probe = startProbe(
      () => ({
        url: `${cluster.url}${uncachedTimeline(pageIds[0]!)}`,
        init: { headers: { authorization: `Bearer ${token}` } },
      }),
      { everyMs: 100 },
    );
    const result = await runLoad(
      {
        name: 'postgres-pause',
        target: cluster.url,
        stages: [
          { name: 'before', seconds: seconds.before, rate },
          { name: 'frozen', seconds: seconds.frozen, rate },
          { name: 'after', seconds: seconds.after, rate },
        ],
        flows: [
          getFlow(cachedRoutes[0]!, `/v1/cases/\${pick(vars.cachedIds)}?expand=owner`, token, 35),
          getFlow(cachedRoutes[1]!, `/v1/cases/search?q=\${pick(vars.terms)}&limit=20`, token, 25),
          getFlow(uncachedRoute, uncachedTimeline('${pick(vars.pageIds)}'), token, 40),
        ],
        onStart: (startMs) => {
          fault = (async () => {
            await sleepUntil(startMs + freezeAt);
            cluster.postgres.freeze();
            notes.push(`PostgreSQL frozen at ${((performance.now() - startMs) / 1000).toFixed(3)} s`);
            await sleepUntil(startMs + thawAt);
            cluster.postgres.thaw();
            notes.push(`PostgreSQL resumed at ${((performance.now() - startMs) / 1000).toFixed(3)} s`);
          })();
        },
      },
      { cachedIds, pageIds, terms },
    );
    await fault;
    const [ledger, probed] = await Promise.all([writer.stop(), probe.stop()]);
    await verifyWrites(cluster.pool, ledger);

    const cached = mergeCells(
      result.cells.filter((c) => cachedRoutes.includes(c.route)),
      'cached',
    );
    const uncached = mergeCells(
      result.cells.filter((c) => c.route === uncachedRoute && c.stage === 'frozen'),
      'uncached',
    );
    const cachedStatuses = statusCounts([cached]);
    const uncachedStatuses = statusCounts([uncached]);
    // Refused and admitted answers together: every uncached answer must come within the bound.
    uncached.corrected.add(uncached.refused);
    const uncachedP99 = uncached.percentileMs(99);
    const uncachedMax = uncached.corrected.maxValue / 1000;
    const recovery = secondsUntilClean(result.timeline, thawAt);
    const statuses = addCounts(addCounts(statusCounts(result.cells), ledger.statuses), probed.statuses);
    const refusalsWithout = ledger.refusalsWithoutRetryAfter + probed.refusalsWithoutRetryAfter;
    const writerFailed = failedCount(ledger.statuses, [503]);

    const checks = [
      check(
        'cached routes answer',
        failedCount(cachedStatuses) === 0,
        `${formatCounts(cachedStatuses)} over the run (stale allowed; its flag is not checked here)`,
      ),
      check(
        'others: 2xx or 503, never hang',
        failedCount(uncachedStatuses, [503]) === 0,
        `${formatCounts(uncachedStatuses)} while frozen`,
      ),
      check(
        `others answered ≤ ${goals.answerMs} ms`,
        uncached.count > 0 && uncachedP99 <= goals.answerMs,
        `p99 ${uncachedP99.toFixed(0)} ms, max ${uncachedMax.toFixed(0)} ms while frozen (from the intended start)`,
      ),
      check(
        'Retry-After on refusals',
        refusalsWithout === 0,
        `${refusalsWithout} of the probes' 429/503 without it (probes: ${formatCounts(probed.statuses)}; writes: ${formatCounts(ledger.statuses)})`,
      ),
      check(
        'writes: 2xx or 503',
        writerFailed === 0,
        `${writerFailed} writes answered otherwise, or not answered within 5 s`,
      ),
      noWriteLost(ledger),
      check(
        `all 2xx ≤ ${goals.recoverySeconds} s after resume`,
        recovery !== undefined && recovery <= goals.recoverySeconds,
        recovery === undefined ? 'never within the run' : `${recovery} s (1 s resolution)`,
      ),
    ];
    return drillResult('postgres-pause', {
      checks,
      statuses,
      failed: failedCount(statuses, [503]),
      ledger,
      recoveryMs: recovery === undefined ? undefined : recovery * 1000,
      durationMs: performance.now() - started,
      notes: [
        ...probed.unexpected.map((line) => `probe saw: ${line}`),
        ...notes,
        `${rate} requests/s for ${seconds.before} + ${seconds.frozen} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; late starts ${result.stages.reduce((n, s) => n + s.lateStarts, 0)}`,
      ],
    });
  },
};
