// Kill: instance b SIGKILLed mid-work (while it runs an export and sends a webhook) under steady load through
// nginx, and a new server.ts started on its port. Nothing of casebook's shutdown runs: the jobs b had taken stay
// `running` in headroom.jobs under its name until their lease lapses, then a worker of a, or of b's successor,
// reaps them (it looks every half lease) and they run again. Every export acknowledged (202) must reach `done`,
// every `export.completed` event must reach the drill's slow receiver at least once with a signature that
// verifies, no comment may be lost, and a must answer 2xx throughout.
//
// The kill waits for b to be mid-work: from the end of the `before` stage, headroom.jobs is read every 20 ms
// until b (`worker` = `<hostname>:<pid>`) runs an export and a webhook delivery at once (or the window passes:
// the first check fails then). The receiver answers each request 1.5 s late, so deliveries last.
//
// Which instance answered a request: nginx's access log (`$upstream_addr`). a's answers are judged throughout;
// b's before the kill and once its successor is ready. In between, what nginx sent to b's port (in flight at the
// kill, refused while nothing listened, or 503 while the successor started up) fails at nginx or at the door and
// is counted, not judged (nginx neither retries on a nor marks b down: `proxy_next_upstream off`, `max_fails=0`).

import { freePort } from '@headroom/dev-servers/ports';
import { type Cluster, webhookReceiverHosts } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  drillResult,
  failedCount,
  formatCounts,
  noWriteLost,
  secondsUntilClean,
  sleepUntil,
  statusCounts,
} from '../drill.ts';
import { eventsMark, heldJobs, type Running, running, runningJobs, settled } from '../jobs.ts';
import { readMix, runLoad, steadyStages } from '../load.ts';
import { keyedPost, type ProbeAnswers, startProbe, startWriter, verifyWrites } from '../probe.ts';
import { deleteEndpoint, Receiver, registerEndpoint, unverified } from '../receiver.ts';

const killed = 'b';
/**
 * The lease of what b had taken: exports run with the job queue's default (casebook sets none), webhooks with
 * WEBHOOK_LEASE_MS, which the cluster leaves at its default. Reapers look every half lease.
 */
const leaseMs = 30_000;
/** From the kill until every export is done and every event received: a lapsed lease, a reaper's look, 10 s to run. */
const settleWithinMs = leaseMs + leaseMs / 2 + 10_000;
const pollEveryMs = 20;
/**
 * The drill's endpoint hears only what the exports publish (2 a second): the writer's comment.created, 10 a second,
 * would outrun a receiver that takes 1.5 s an answer, 4 deliveries an endpoint at once (`endpointConcurrency`).
 */
const subscribed = ['export.completed'];

export const kill: Drill = {
  name: 'kill',
  proves:
    'one instance SIGKILLed while it runs exports and sends webhooks, then replaced: every export done and every event received (signature verified) at least once after the restart, the other instance 2xx throughout, no write lost',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short ? { before: 4, after: 18 } : { before: 10, after: 50 };
    /**
     * How long the kill waits for b to be mid-work, from the end of `before`. 5 s in the short form once missed
     * in a fresh-clone CI run (on a busy machine exports and deliveries overlapped less on b).
     */
    const windowMs = 10_000;
    /** Exports go on this long after the successor is ready ("around the kill"), then stop. */
    const exportsAfterReadyMs = short ? 2_000 : 10_000;
    const slowMs = 1_500;
    const rate = short ? 60 : 100;
    const admin = await cluster.login('admin@acme.test');
    const token = await cluster.login();
    const receiver = new Receiver(webhookReceiverHosts[0], await freePort());
    receiver.delayMs = slowMs;
    await receiver.up();
    let endpoint: { id: number; secret: string } | undefined;
    try {
      endpoint = await registerEndpoint(cluster, admin, receiver.url, subscribed);
      const { tenant, lastEventId: lastEventBefore } = await eventsMark(cluster.pool, endpoint.id);
      const since = new Date();
      const [a, b] = cluster.instances.map((i) => new URL(i.url).host) as [string, string];
      const victim = cluster.instances.find((i) => i.name === killed)!;
      const worker = `%:${victim.process.child.pid}`;
      const logFrom = (await cluster.accessLog()).length;
      // The access log's length at the kill and once the successor is ready; ms from the first stage's start.
      const at: { logKill?: number; logReady?: number; kill?: number; ready?: number; exited?: number } = {};
      const wall: { kill?: number; ready?: number } = {};
      let busyAtKill: Running | undefined;
      let heldAtKill: Awaited<ReturnType<typeof runningJobs>> = [];
      let fault: Promise<void> = Promise.resolve();

      const writer = startWriter(cluster.url, token, cluster.caseIds.slice(130, 140), {
        drill: 'kill',
        everyMs: 100,
      });
      // An export of all acme's cases (about 6,700 rows, 7 pages) every 500 ms: b has one running most of the time.
      const exportIds: number[] = [];
      const exports = startProbe(
        () => ({
          url: `${cluster.url}/v1/exports`,
          init: keyedPost(token, { kind: 'cases', format: 'csv' }),
        }),
        {
          everyMs: 500,
          onAnswer: (_, status, body) => {
            if (status === 202) exportIds.push((JSON.parse(body) as { id: number }).id);
          },
        },
      );
      let exported: ProbeAnswers | undefined;
      let result: Awaited<ReturnType<typeof runLoad>>;
      try {
        result = await runLoad(
          {
            name: 'kill',
            target: cluster.url,
            stages: steadyStages(seconds, rate),
            flows: readMix(token),
            onStart: (startMs) => {
              const now = () => performance.now() - startMs;
              fault = (async () => {
                await sleepUntil(startMs + seconds.before * 1000);
                const until = performance.now() + windowMs;
                // Mid-work (an export and a delivery at once), or out of time.
                const timeToKill = (b: Running) =>
                  (b.exports > 0 && b.deliveries > 0) || performance.now() >= until;
                let busy = await running(cluster.pool, worker);
                for (;;) {
                  if (timeToKill(busy)) {
                    // Before the signal: a line after this offset may be one of b's answers cut by the kill.
                    // Read before a last look, which the signal then follows at once: reading a full run's log
                    // took long enough for b's export to finish (one full run killed b holding deliveries only).
                    at.logKill = (await cluster.accessLog()).length;
                    busy = await running(cluster.pool, worker);
                    if (timeToKill(busy)) break;
                  }
                  await new Promise((resolve) => setTimeout(resolve, pollEveryMs));
                  busy = await running(cluster.pool, worker);
                }
                busyAtKill = busy;
                at.kill = now();
                wall.kill = Date.now();
                await cluster.killInstance(killed);
                at.exited = now();
                // Exactly what b held when it died: nothing else writes these rows until their leases lapse.
                heldAtKill = await runningJobs(cluster.pool, worker, wall.kill);
                await cluster.replaceInstance(killed);
                at.ready = now();
                wall.ready = Date.now();
                at.logReady = (await cluster.accessLog()).length;
                await sleepUntil(performance.now() + exportsAfterReadyMs);
                exported = await exports.stop();
              })();
            },
          },
          {
            readIds: cluster.caseIds.slice(0, 100),
            terms: ['fraud', 'phishing', 'chargeback', 'invoice', 'device'],
          },
        );
        await fault;
      } finally {
        exported ??= await exports.stop();
      }
      const ledger = await writer.stop();
      await verifyWrites(cluster.pool, ledger);

      // Every export acknowledged done, every event of the tenant since the drill began received, every delivery
      // recorded: or the bound from the kill passes.
      const deadline = (wall.kill ?? Date.now()) + settleWithinMs;
      const look = () =>
        settled(cluster.pool, {
          exportIds,
          since,
          endpoint: endpoint!.id,
          tenant,
          lastEvent: lastEventBefore,
          types: subscribed,
        });
      let state = await look();
      const pending = () => {
        const got = receiver.firstReceipts();
        return (
          state.exports.some((e) => e.state !== 'done') ||
          state.events.some((e) => !got.has(`msg_${e.id}`)) ||
          state.deliveries.some((d) => d.state !== 'delivered') ||
          state.exports.some((e) => !state.events.some((ev) => ev.exportId === e.id))
        );
      };
      while (pending() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        state = await look();
      }

      const got = receiver.firstReceipts();
      const notDone = state.exports.filter((e) => e.state !== 'done');
      const withoutEvent = state.exports.filter((e) => !state.events.some((ev) => ev.exportId === e.id));
      const missing = state.events.filter((e) => !got.has(`msg_${e.id}`));
      const undelivered = state.deliveries.filter((d) => d.state !== 'delivered');
      const forged = unverified(receiver.received, endpoint.secret);
      const messages = receiver.received.map((r) => r.headers['webhook-id']);
      const duplicates = messages.length - new Set(messages).size;
      const held = await heldJobs(
        cluster.pool,
        heldAtKill.map((job) => job.id),
      );
      const lastDone = Math.max(0, ...state.exports.map((e) => e.finishedAt ?? 0));
      const lastReceipt = Math.max(0, ...state.events.map((e) => got.get(`msg_${e.id}`) ?? 0));
      // A delivery cut by the kill reached the receiver before it: its completion is the redelivery's record.
      const lastDelivered = Math.max(0, ...state.deliveries.map((d) => d.deliveredAt ?? 0));
      const recoveryMs =
        wall.ready === undefined || pending()
          ? undefined
          : Math.max(0, Math.max(lastDone, lastReceipt, lastDelivered) - wall.ready);

      const log = (await cluster.accessLog()).slice(logFrom);
      const kill = (at.logKill ?? log.length + logFrom) - logFrom;
      const ready = (at.logReady ?? log.length + logFrom) - logFrom;
      const beforeKill = byUpstream(log.slice(0, kill));
      const gap = byUpstream(log.slice(kill, ready));
      const afterReady = byUpstream(log.slice(ready));
      const judgedA = addCounts(
        addCounts({ ...beforeKill.get(a) }, gap.get(a) ?? {}),
        afterReady.get(a) ?? {},
      );
      const judgedB = addCounts({ ...beforeKill.get(b) }, afterReady.get(b) ?? {});
      const unattributed = [...beforeKill, ...gap, ...afterReady]
        .filter(([host]) => host !== a && host !== b)
        .map(([host, counts]) => `${host}: ${formatCounts(counts)}`);
      const statuses = addCounts(addCounts(statusCounts(result.cells), ledger.statuses), exported.statuses);
      const unanswered = statuses.none ?? 0;
      const failed = failedCount(judgedA) + failedCount(judgedB) + unanswered;
      const ms = (t: number | undefined) => (t === undefined ? 'never' : `${(t / 1000).toFixed(3)} s`);
      const afterKill = (t: number | undefined) =>
        t === undefined || wall.kill === undefined ? 'not yet' : `${((t - wall.kill) / 1000).toFixed(1)} s`;
      const heldExports = heldAtKill.filter((job) => job.queue === 'exports').length;
      const heldDeliveries = heldAtKill.filter((job) => job.queue === 'webhook-deliveries').length;
      // b's dead deliveries hold their slots of the endpoint's 4 (endpointConcurrency) until their leases lapse.
      const waited = (after: boolean) =>
        state.events
          .filter((e) => e.occurredAt >= (wall.kill ?? 0) === after)
          .map((e) => (got.get(`msg_${e.id}`) ?? Number.POSITIVE_INFINITY) - e.occurredAt)
          .sort((x, y) => x - y);
      const [waitedBefore, waitedAfter] = [waited(false), waited(true)];
      const clean = at.ready === undefined ? undefined : secondsUntilClean(result.timeline, at.ready);

      const checks = [
        check(
          `the kill landed mid-work (b running an export and a webhook delivery)`,
          heldExports > 0 && heldDeliveries > 0,
          `b SIGKILLed at ${ms(at.kill)} holding ${heldAtKill.length} running jobs: ${heldExports} exports, ${heldDeliveries} webhook deliveries, ${heldAtKill.length - heldExports - heldDeliveries} fan-outs (last look before the signal: ${busyAtKill ? `${busyAtKill.exports} / ${busyAtKill.deliveries} / ${busyAtKill.fanOuts}` : 'none'})`,
        ),
        check(
          'every acknowledged export done',
          exportIds.length > 0 && notDone.length === 0 && state.exports.length === exportIds.length,
          `${exportIds.length} acknowledged (202), ${state.exports.length} of them in PostgreSQL: ${formatCounts(countBy(state.exports.map((e) => e.state ?? 'no job')))}; ${state.exports.filter((e) => e.attempts > 1).length} ran more than once; the last done ${afterKill(lastDone || undefined)} after the kill (looked for until ${settleWithinMs / 1000} s after it: the ${leaseMs / 1000} s lease, a reaper's look, 10 s)${listed(
            'not done',
            notDone.map((e) => `${e.id} ${e.state}`),
          )}`,
        ),
        check(
          'every done export published export.completed',
          withoutEvent.length === 0,
          `${state.exports.length - withoutEvent.length} of ${state.exports.length} acknowledged exports have their event${listed(
            'without',
            withoutEvent.map((e) => e.id),
          )}`,
        ),
        check(
          'every event received at least once and recorded delivered',
          state.events.length > 0 && missing.length === 0 && undelivered.length === 0,
          `${state.events.length - missing.length} of ${state.events.length} events of the tenant since the drill began received (${duplicates} requests repeated a message); ${state.deliveries.length - undelivered.length} of ${state.deliveries.length} deliveries delivered${listed(
            'missing',
            missing.map((e) => e.id),
          )}${undelivered.length > 0 ? `; not delivered: ${formatCounts(countBy(undelivered.map((d) => d.state)))}` : ''}`,
        ),
        check(
          'every signature verifies',
          forged.length === 0 && receiver.received.length > 0,
          `${receiver.received.length} requests verified with standardwebhooks; ${forged.length} did not${forged.length > 0 ? `: ${forged.slice(0, 3).join('; ')}` : ''}`,
        ),
        check(
          'a answered 2xx throughout',
          failedCount(judgedA) === 0 && Object.keys(judgedA).length > 0,
          `${formatCounts(judgedA)} (nginx's access log, upstream ${a})`,
        ),
        check(
          'b answered 2xx before the kill and once its successor was ready',
          failedCount(judgedB) === 0,
          `before the kill: ${formatCounts(beforeKill.get(b) ?? {})}; after ready: ${formatCounts(afterReady.get(b) ?? {})}; in between (not judged): ${formatCounts(gap.get(b) ?? {}) || 'none'}`,
        ),
        check(
          'every request answered',
          unanswered === 0,
          `${unanswered} of the load, the writes and the exports without an answer`,
        ),
        noWriteLost(ledger),
      ];
      return drillResult('kill', {
        checks,
        statuses,
        failed,
        ledger,
        recoveryMs,
        durationMs: performance.now() - started,
        notes: [
          ...exported.unexpected.map((line) => `exports saw: ${line}`),
          `b exited ${ms(at.exited)}, its successor ready at ${ms(at.ready)} (${afterKill(wall.ready)} after the kill); exports stopped ${exportsAfterReadyMs / 1000} s later`,
          `what b held at the kill: ${held.map((job) => `${job.queue} ${job.id} (lease left ${((heldAtKill.find((h) => h.id === job.id)?.leaseLeftMs ?? 0) / 1000).toFixed(1)} s) → ${job.state ?? 'gone'} at attempt ${job.attempts}, ${afterKill(job.finishedAt)} after the kill`).join('; ') || 'nothing'}`,
          `recovery: the last export done ${afterKill(lastDone || undefined)} and the last event first received ${afterKill(lastReceipt || undefined)} and recorded delivered ${afterKill(lastDelivered || undefined)} after the kill; ${recoveryMs === undefined ? 'not settled' : `${(recoveryMs / 1000).toFixed(1)} s after the successor was ready`}`,
          `the load all 2xx again ${clean === undefined ? 'never within the run' : `${clean.toFixed(1)} s`} after the successor was ready (1 s resolution)`,
          `exports: ${formatCounts(exported.statuses)}; ${state.created} created since the drill began (an acknowledgement cut by the kill leaves one unacknowledged)`,
          `receiver: ${receiver.received.length} requests for ${got.size} messages, each answered ${slowMs} ms late; event to first receipt: before the kill max ${(waitedBefore.at(-1) ?? 0).toFixed(0)} ms over ${waitedBefore.length}, after it median ${(waitedAfter[Math.floor(waitedAfter.length / 2)] ?? 0).toFixed(0)} ms, max ${(waitedAfter.at(-1) ?? 0).toFixed(0)} ms over ${waitedAfter.length} (b's ${heldDeliveries} dead deliveries held their slots of the endpoint's 4 until their leases lapsed)`,
          `nginx to b between the kill and the successor's readiness (not judged): ${formatCounts(gap.get(b) ?? {}) || 'none'}${unattributed.length > 0 ? `; no upstream: ${unattributed.join('; ')}` : ''}`,
          `${rate} reads/s, 10 comments/s and 2 exports/s for ${seconds.before} + ${seconds.after} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; late starts ${result.stages.map((s) => s.lateStarts).join(' / ')}`,
        ],
      });
    } finally {
      // The next drill's exports publish nothing: the endpoint goes, and the receiver with it.
      if (endpoint) await deleteEndpoint(cluster, admin, endpoint.id).catch(() => {});
      await receiver.down();
    }
  },
};

/**
 * nginx's access-log lines (`<status> <cache status> "<request>" <upstream>`) counted by upstream address, then
 * status; `-` for what nginx answered itself.
 */
function byUpstream(log: string): Map<string, Record<string, number>> {
  const counts = new Map<string, Record<string, number>>();
  for (const line of log.split('\n')) {
    const match = /^(\d{3}) \S+ "(?:[^"\\]|\\.)*" (.+)$/.exec(line);
    if (!match) continue;
    const [, status, upstream] = match as unknown as [string, string, string];
    const of = counts.get(upstream) ?? {};
    of[status] = (of[status] ?? 0) + 1;
    counts.set(upstream, of);
  }
  return counts;
}

/** `; <label>: <the first ten>`, or nothing when `items` is empty: a check's detail names what failed. */
function listed(label: string, items: readonly (string | number)[]): string {
  return items.length > 0 ? `; ${label}: ${items.slice(0, 10).join(', ')}` : '';
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
