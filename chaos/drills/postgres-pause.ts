// PostgreSQL pause: every PostgreSQL process stopped (SIGSTOP) for 15 s under steady load, then resumed. Cached
// routes must keep answering, saying `stale: true` once past their fresh time, database work must get a 503 with
// Retry-After within 1 s and never hang, every acknowledged write must be in PostgreSQL afterwards, and answers
// must be all 2xx (and fresh) again ≤ 5 s after the resume.
//
// Cached reads are fresh for 60 s as shipped, longer than the pause: the drill sets casebook.yaml's `cache.ttl`
// to its least (1 s) for its length (hot-reloaded), so that the cached answers during the pause are stale ones.

import { caseTag, searchTag } from '../../apps/casebook/src/http/cached-reads.ts';
import type { Cluster } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  type DrillResult,
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
import { changeSettings } from '../settings.ts';

const cachedRoutes = ['GET /v1/cases/:id', 'GET /v1/cases/search'];
const uncachedRoute = 'GET /v1/cases/:id/timeline';
const terms = ['fraud', 'phishing', 'chargeback'];
const goals = { answerMs: 1_000, recoverySeconds: 5 };
/** casebook.yaml's `cache.ttl` during the drill (its least), and the most its jitter (10%) adds. */
const freshMs = 1_000;
const freshAtMostMs = freshMs * 1.1;

export const postgresPause: Drill = {
  name: 'postgres-pause',
  proves:
    'PostgreSQL stopped (SIGSTOP) then resumed: cached routes keep answering with stale: true, others get 503 + Retry-After within 1 s, no write lost, all 2xx and fresh again ≤ 5 s after',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const settings = await changeSettings(cluster, (yaml) =>
      yaml.replace(/(\ncache:\n {2}ttl: )\d+/, (_, key: string) => `${key}${freshMs}`),
    );
    try {
      return await pause(cluster, short, started);
    } finally {
      await settings.restore();
    }
  },
};

async function pause(cluster: Cluster, short: boolean, started: number): Promise<DrillResult> {
  const token = await cluster.login();
  const cachedIds = cluster.caseIds.slice(0, 5);
  const pageIds = cluster.caseIds.slice(5, 45);
  const writeIds = cluster.caseIds.slice(45, 55);
  const seconds = short ? { before: 3, frozen: 4, after: 6 } : { before: 5, frozen: 15, after: 10 };
  const rate = short ? 120 : 200;
  // The cached reads in both instances' caches before the fault, as for data users were just reading: loaded
  // afresh under the 1 s fresh time (an earlier drill may have cached the same ones for 60 s).
  const { rows } = await cluster.pool.query<{ id: number }>("SELECT id FROM tenants WHERE slug = 'acme'");
  const invalidated = await fetch(`${cluster.instances[0].url}/admin/caches/casebook/invalidate`, {
    method: 'POST',
    headers: { ...cluster.operatorHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: String(rows[0]!.id), tags: [searchTag, ...cachedIds.map(caseTag)] }),
  });
  if (invalidated.status !== 200) throw new Error(`invalidating acme's cached reads: ${invalidated.status}`);
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
  // Cached reads beside the load whose bodies are read: case detail and a search page in turn.
  const cachedPaths = [`/v1/cases/${cachedIds[0]}?expand=owner`, `/v1/cases/search?q=${terms[0]}&limit=20`];
  const cachedAnswers: { sentAt: number; path: string; status: number; stale: boolean }[] = [];
  let turn = 0;
  const staleProbe = startProbe(
    () => {
      const path = cachedPaths[turn++ % cachedPaths.length]!;
      return {
        url: `${cluster.url}${path}`,
        init: { headers: { authorization: `Bearer ${token}` } },
        marker: `${performance.now()} ${path}`,
      };
    },
    {
      everyMs: 100,
      onAnswer: (marker = '', status, body) => {
        const [sentAt, path = ''] = marker.split(' ');
        const stale = status === 200 && (JSON.parse(body) as { stale?: boolean }).stale === true;
        cachedAnswers.push({ sentAt: Number(sentAt), path, status, stale });
      },
    },
  );
  let loadStart = 0;
  const result = await runLoad(
    {
      name: 'postgres-pause',
      target: cluster.url,
      stages: steadyStages(seconds, rate),
      flows: [
        getFlow(cachedRoutes[0]!, `/v1/cases/\${pick(vars.cachedIds)}?expand=owner`, token, 35),
        getFlow(cachedRoutes[1]!, `/v1/cases/search?q=\${pick(vars.terms)}&limit=20`, token, 25),
        getFlow(uncachedRoute, uncachedTimeline('${pick(vars.pageIds)}'), token, 40),
      ],
      onStart: (startMs) => {
        loadStart = startMs;
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
  const [ledger, probed, cachedProbed] = await Promise.all([writer.stop(), probe.stop(), staleProbe.stop()]);
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
  const statuses = addCounts(
    addCounts(addCounts(statusCounts(result.cells), ledger.statuses), probed.statuses),
    cachedProbed.statuses,
  );
  const refusalsWithout =
    ledger.refusalsWithoutRetryAfter +
    probed.refusalsWithoutRetryAfter +
    cachedProbed.refusalsWithoutRetryAfter;
  // While frozen and past the fresh time (and a margin for the answer's way), every cached answer is a stale one;
  // from the recovery bound after the resume on, every one is fresh again.
  const during = (from: number, to: number) =>
    cachedAnswers.filter((a) => a.sentAt - loadStart >= from && a.sentAt - loadStart < to);
  const staleWindow = during(freezeAt + freshAtMostMs + 500, thawAt);
  const freshWindow = during(thawAt + goals.recoverySeconds * 1000, Number.POSITIVE_INFINITY);
  const flagged = staleWindow.filter((a) => a.stale).length;
  const unflagged = freshWindow.filter((a) => a.status === 200 && !a.stale).length;
  // Refreshed again: stale-while-revalidate still sends the first read after each second's expiry stale (while
  // its refresh runs), so a few flags are expected; an entry stuck in grace would be stale at every read.
  const refreshed = cachedPaths.every((path) => {
    const answers = freshWindow.filter((a) => a.path === path);
    const fresh = answers.filter((a) => a.status === 200 && !a.stale).length;
    return answers.length > 0 && fresh * 2 > answers.length && answers.every((a) => a.status === 200);
  });
  const writerFailed = failedCount(ledger.statuses, [503]);

  const checks = [
    check(
      'cached routes answer',
      failedCount(cachedStatuses) === 0,
      `${formatCounts(cachedStatuses)} over the run; probes: ${formatCounts(cachedProbed.statuses)}`,
    ),
    check(
      'cached answers say stale: true while frozen',
      staleWindow.length > 0 && flagged === staleWindow.length,
      `${flagged} of ${staleWindow.length} probe answers from ${((freezeAt + freshAtMostMs + 500) / 1000).toFixed(1)} s to the resume (fresh for ${freshMs} ms + jitter)`,
    ),
    check(
      `refreshed ≤ ${goals.recoverySeconds} s after resume`,
      refreshed,
      `${unflagged} of ${freshWindow.length} probe answers from ${goals.recoverySeconds} s after the resume on are 200 without the flag (each path: most of its answers; stale-while-revalidate flags the first read past each expiry)`,
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
      ...[...probed.unexpected, ...cachedProbed.unexpected].map((line) => `probe saw: ${line}`),
      ...notes,
      ...[...staleWindow.filter((a) => !a.stale), ...freshWindow.filter((a) => a.status !== 200)]
        .slice(0, 6)
        .map(
          (a) =>
            `flag not as judged: ${a.path} sent at ${((a.sentAt - loadStart) / 1000).toFixed(3)} s: ${a.status}, stale ${a.stale}`,
        ),
      `${rate} requests/s for ${seconds.before} + ${seconds.frozen} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; late starts ${result.stages.reduce((n, s) => n + s.lateStarts, 0)}`,
    ],
  });
}
