// Deploy: under steady load through nginx, one instance is SIGTERMed and a new one started in its place (same
// port: nginx names fixed ports). casebook's shutdown flips readiness to 503 at once, serves on for its
// SHUTDOWN_DELAY_MS, then closes its listener and drains. Every request sent before the listener closed must be
// answered 2xx, readiness must have turned 503 before the listener closed (polled on that instance directly), every
// export acknowledged must run to `done` (the stopping worker gives its jobs back), and no write may be lost.
//
// The cluster starts its instances with SHUTDOWN_DELAY_MS=0 (its own stop stays quick). With 0, readiness and
// the listener go in the same tick: nothing could observe the order, and the instance would stop serving the
// moment the signal came. So the drill first deploys b once, before the load and unjudged, with a realistic delay
// (2 s short, the shipped 5 s full); that b is the one SIGTERMed under load, and its successor gets the cluster's 0.
//
// Which requests were "sent before its listener closed": those whose intended start falls in the stages before
// the close. The `draining` stage begins at the SIGTERM and lasts the delay; casebook starts its delay when the
// signal's handler runs, so the listener cannot close before that stage ends (the poller's first refused
// connection says when it did). The `after` stage's requests routed to b before the new one listens fail at
// nginx (no retry on the other instance: `proxy_next_upstream off`); they are counted, not judged.

import { until } from '@headroom/dev-servers/until';
import type { Cluster } from '../cluster.ts';
import {
  addCounts,
  check,
  cleanFrom,
  type Drill,
  drillResult,
  failedCount,
  formatCounts,
  noWriteLost,
  secondsUntilClean,
  sleepUntil,
  statusCounts,
} from '../drill.ts';
import { running } from '../jobs.ts';
import { readMix, runLoad } from '../load.ts';
import {
  keyedPost,
  type ProbeAnswers,
  startProbe,
  startWriter,
  verifyWrites,
  type WriteLedger,
} from '../probe.ts';

const stopped = 'b';
const goals = { cleanWithinSeconds: 1, exportsWithinMs: 30_000 };
const pollEveryMs = 20;

export const deploy: Drill = {
  name: 'deploy',
  proves:
    'one instance SIGTERMed under load and replaced: 0 failed requests among those sent before its listener closed, readiness 503 before the close, no export job lost, no write lost',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const since = new Date();
    const delayMs = short ? 2_000 : 5_000;
    const seconds = short ? { before: 3, after: 12 } : { before: 10, after: 25 };
    const rate = short ? 100 : 200;
    const token = await cluster.login();
    const readIds = cluster.caseIds.slice(0, 100);
    const writeIds = cluster.caseIds.slice(110, 120);
    const notes: string[] = [];

    const redeployed = performance.now();
    const instance = await cluster.replaceInstance(stopped, { SHUTDOWN_DELAY_MS: String(delayMs) });
    notes.push(
      `${stopped} redeployed with SHUTDOWN_DELAY_MS=${delayMs} before the load in ${((performance.now() - redeployed) / 1000).toFixed(1)} s`,
    );

    const closeAt = (seconds.before * 1000 + delayMs) / 1000;
    // Its name in headroom.jobs' `worker` column (`<hostname>:<pid>`).
    const stoppedWorker = `%:${instance.process.child.pid}`;
    // ms from the first stage's start.
    const seen: { sigterm?: number; flip?: number; closed?: number; exited?: number; ready?: number } = {};
    let closedBy = '';
    let fault: Promise<void> = Promise.resolve();
    let beforeClose: Promise<[WriteLedger, ProbeAnswers]> | undefined;
    let runningOnB: Promise<{ t: number; n: number }[]> = Promise.resolve([]);
    const writer = startWriter(cluster.url, token, writeIds, { drill: 'deploy', everyMs: 100 });
    // A job: an export of all acme's cases, every 100 ms through nginx (an Idempotency-Key is required), long
    // enough that some run on b when its listener closes and its worker stops.
    const exports = startProbe(
      () => ({
        url: `${cluster.url}/v1/exports`,
        init: keyedPost(token, { kind: 'cases', format: 'csv' }),
      }),
      { everyMs: 100 },
    );
    const result = await runLoad(
      {
        name: 'deploy',
        target: cluster.url,
        stages: [
          { name: 'before', seconds: seconds.before, rate },
          { name: 'draining', seconds: delayMs / 1000, rate },
          { name: 'after', seconds: seconds.after, rate },
        ],
        flows: readMix(token),
        onStart: (startMs) => {
          const now = () => performance.now() - startMs;
          // The writer and the exports stop as the `draining` stage ends: all they sent was before the close.
          beforeClose = sleepUntil(startMs + closeAt * 1000).then(() =>
            Promise.all([writer.stop(), exports.stop()]),
          );
          // Exports running on b, every 50 ms from the SIGTERM until it exits: how many its close caught.
          runningOnB = sleepUntil(startMs + seconds.before * 1000).then(async () => {
            const samples: { t: number; n: number }[] = [];
            while (seen.exited === undefined && now() < closeAt * 1000 + 10_000) {
              samples.push({ t: now(), n: (await running(cluster.pool, stoppedWorker)).exports });
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return samples;
          });
          fault = (async () => {
            await sleepUntil(startMs + seconds.before * 1000);
            instance.process.child.once('exit', () => {
              seen.exited = now();
            });
            seen.sigterm = now();
            const replaced = cluster.replaceInstance(stopped).then(() => {
              seen.ready = now();
            });
            // Readiness and the listener, on b directly: 503 once flipped, a refused connection once closed.
            await until(
              async () => {
                try {
                  const res = await fetch(`${instance.url}/health/ready`, {
                    signal: AbortSignal.timeout(1_000),
                  });
                  await res.arrayBuffer();
                  if (res.status === 503) seen.flip ??= now();
                  return false;
                } catch (error) {
                  seen.closed = now();
                  closedBy = String((error as Error & { cause?: Error }).cause?.message ?? error);
                  return true;
                }
              },
              { timeout: delayMs + 10_000, interval: pollEveryMs, what: `${stopped}'s listener to close` },
            ).catch((error: Error) => notes.push(error.message));
            await replaced;
          })();
        },
      },
      { readIds, terms: ['fraud', 'phishing', 'chargeback', 'invoice', 'device'] },
    );
    await fault;
    const [ledger, exported] = await beforeClose!;
    await verifyWrites(cluster.pool, ledger);
    const jobs = await exportsSettled(cluster, since);
    const samples = await runningOnB;
    const atClose = samples.filter((sample) => sample.t <= (seen.closed ?? 0)).at(-1);
    const ranOnStopped = (
      await cluster.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM headroom.jobs WHERE queue = 'exports' AND worker LIKE $1 AND created_at >= $2",
        [stoppedWorker, since.getTime()],
      )
    ).rows[0]?.n;

    const judged = addCounts(
      addCounts(statusCounts(result.cells.filter((c) => c.stage !== 'after')), ledger.statuses),
      exported.statuses,
    );
    const after = statusCounts(result.cells.filter((c) => c.stage === 'after'));
    const failed = failedCount(judged);
    const clean = seen.ready === undefined ? undefined : secondsUntilClean(result.timeline, seen.ready);
    const ms = (t: number | undefined) => (t === undefined ? 'never' : `${(t / 1000).toFixed(3)} s`);
    const acknowledgedExports = exported.statuses['202'] ?? 0;
    const checks = [
      check(
        '0 failed among requests sent before the listener closed',
        failed === 0,
        `${failed} of ${Object.values(judged).reduce((a, b) => a + b, 0)} (load intended before ${closeAt.toFixed(3)} s: ${formatCounts(statusCounts(result.cells.filter((c) => c.stage !== 'after')))}; writes: ${formatCounts(ledger.statuses)}; exports: ${formatCounts(exported.statuses)})`,
      ),
      check(
        'readiness 503 before the listener closed',
        seen.flip !== undefined && seen.closed !== undefined && seen.flip < seen.closed,
        `SIGTERM at ${ms(seen.sigterm)}; /health/ready 503 at ${ms(seen.flip)}; listener closed at ${ms(seen.closed)} (${closedBy || 'no refusal seen'}); polled every ${pollEveryMs} ms`,
      ),
      check(
        'no export job lost',
        jobs.done === jobs.total && jobs.total >= acknowledgedExports && acknowledgedExports > 0,
        `${acknowledgedExports} exports acknowledged (202), ${jobs.total} created since the drill began: ${formatCounts(jobs.states)} ${jobs.waitedMs.toFixed(0)} ms after the load`,
      ),
      noWriteLost(ledger),
      // Judged on the timeline's whole seconds that began 1 s or more after ready: the second that straddles that
      // instant holds answers from before it too (a 503 nginx passed on while b started up, completing 25 ms after
      // its readiness, failed one fresh-clone CI run when the bound was the first clean second's start).
      check(
        `all 2xx from ${goals.cleanWithinSeconds} s after the new instance is ready`,
        seen.ready !== undefined && cleanFrom(result.timeline, seen.ready + goals.cleanWithinSeconds * 1000),
        `${clean === undefined ? 'never all 2xx within the run' : `all 2xx from the second beginning ${clean.toFixed(3)} s after it`} (ready at ${ms(seen.ready)}; the timeline's seconds)`,
      ),
    ];
    return drillResult('deploy', {
      checks,
      statuses: addCounts({ ...judged }, after),
      failed,
      ledger,
      recoveryMs: clean === undefined ? undefined : clean * 1000,
      durationMs: performance.now() - started,
      notes: [
        ...exported.unexpected.map((line) => `exports saw: ${line}`),
        `${stopped} exited at ${ms(seen.exited)}; its successor (SHUTDOWN_DELAY_MS=0) ready at ${ms(seen.ready)}`,
        `exports run by the stopped ${stopped}: ${ranOnStopped}, running there at its close: ${atClose ? `${atClose.n} (seen at ${ms(atClose.t)})` : 'not seen'}, the most after it: ${Math.max(0, ...samples.filter((sample) => sample.t > (seen.closed ?? 0)).map((sample) => sample.n))}; exports run more than once: ${jobs.retried}; slowest export ${jobs.slowestMs} ms`,
        `after the close (not judged): ${formatCounts(after)}; a request nginx sent to ${stopped} while nothing listened there fails at nginx (no retry on the other instance)`,
        `timeline seconds (end of second) with 502/503: ${
          result.timeline
            .filter((point) => (point.codes?.['502'] ?? 0) + (point.codes?.['503'] ?? 0) > 0)
            .map(
              (point) =>
                `${point.t} s: ${formatCounts({ 502: point.codes?.['502'] ?? 0, 503: point.codes?.['503'] ?? 0 })}`,
            )
            .join('; ') || 'none'
        }`,
        ...notes,
        `${rate} requests/s for ${seconds.before} + ${delayMs / 1000} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; late starts ${result.stages.map((s) => s.lateStarts).join(' / ')}`,
      ],
    });
  },
};

/** Waits (bounded) until every export created since `since` has ended; counts them by job state. */
async function exportsSettled(
  cluster: Cluster,
  since: Date,
): Promise<{
  total: number;
  done: number;
  states: Record<string, number>;
  retried: number;
  slowestMs: number;
  waitedMs: number;
}> {
  const started = performance.now();
  const read = async () => {
    const { rows } = await cluster.pool.query<{
      state: string | null;
      n: number;
      retried: number;
      slowest: number;
    }>(
      `SELECT j.state, count(*)::int AS n, count(*) FILTER (WHERE j.attempts > 1)::int AS retried,
              coalesce(max(j.finished_at - j.started_at), 0)::int AS slowest
       FROM exports e LEFT JOIN headroom.jobs j ON j.id = e.job_id
       WHERE e.created_at >= $1 GROUP BY j.state`,
      [since],
    );
    return rows;
  };
  let rows = await read();
  await until(
    async () => {
      rows = await read();
      return rows.every((row) => ['done', 'dead', 'cancelled'].includes(row.state ?? 'none'));
    },
    { timeout: goals.exportsWithinMs, interval: 200, what: 'every export to end' },
  ).catch(() => {});
  const states: Record<string, number> = {};
  for (const row of rows) states[row.state ?? 'none'] = row.n;
  return {
    total: rows.reduce((n, row) => n + row.n, 0),
    done: states.done ?? 0,
    states,
    retried: rows.reduce((n, row) => n + row.retried, 0),
    slowestMs: Math.max(0, ...rows.map((row) => row.slowest)),
    waitedMs: performance.now() - started,
  };
}
