// Webhook receiver down, then back, then slow: two endpoints of acme point at two receivers on loopback (A and
// B); under steady load, with the writer's comments publishing `comment.created`, receiver A stops listening
// (connections refused) for a while, listens again, then answers slowly for a while. Every event published during
// the drill must reach A at least once (matched by webhook-id, `msg_<event id>`), every delivery must verify with
// the npm `standardwebhooks` package, and B must keep receiving with its usual latency meanwhile.

import { freePort } from '@headroom/dev-servers/ports';
import { type Cluster, webhookReceiverHosts } from '../cluster.ts';
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
import { eventsMark } from '../jobs.ts';
import { readMix, runLoad, steadyStages } from '../load.ts';
import { startWriter, verifyWrites } from '../probe.ts';
import { deleteEndpoint, Receiver, registerEndpoint, unverified } from '../receiver.ts';

// B's deliveries while A is down: each ≤ this after its event (the event's `occurred_at` to B's receipt).
const bLatencyP99Ms = 1_000;
// What both endpoints subscribe to (the drill publishes only the writer's comment.created).
const subscribed = ['comment.created', 'case.created'];

export const webhookReceiver: Drill = {
  name: 'webhook-receiver',
  proves:
    'a webhook receiver down (connections refused) 60 s, then back, then slow, beside a second one: every event published meanwhile delivered to it at least once, every signature verifies, the other endpoint keeps its latency',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    // Short: down less than the schedule's 5 s retry and the breaker's first 5 s probe, so the redelivery falls
    // inside the drill. Full: 60 s down; what failed three times waits the schedule's 5 min (±10%). Then A is
    // slow for a while (each answer `slowMs` late, within the 15 s an attempt may take).
    const seconds = short
      ? { before: 3, down: 3, back: 5, slow: 4, after: 6 }
      : { before: 5, down: 60, back: 10, slow: 30, after: 15 };
    const slowMs = short ? 1_000 : 2_000;
    const deliverWithinMs = short ? 30_000 : 7 * 60_000;
    const rate = short ? 60 : 100;
    const [hostA, hostB] = webhookReceiverHosts;
    const a = new Receiver(hostA, await freePort());
    const b = new Receiver(hostB, await freePort());
    const admin = await cluster.login('admin@acme.test');
    const token = await cluster.login();
    const notes: string[] = [];
    const endpoints: { id: number; secret: string; tenant?: string }[] = [];
    await a.up();
    await b.up();
    try {
      for (const receiver of [a, b])
        endpoints.push(await registerEndpoint(cluster, admin, receiver.url, subscribed));
      const [endpointA, endpointB] = endpoints as [(typeof endpoints)[0], (typeof endpoints)[0]];
      const { tenant, lastEventId: lastBefore } = await eventsMark(cluster.pool, endpointA.id);
      const downAt = seconds.before * 1000;
      const backAt = downAt + seconds.down * 1000;
      const slowAt = backAt + seconds.back * 1000;
      const fastAt = slowAt + seconds.slow * 1000;
      const wall: { down?: number; back?: number; slow?: number; fast?: number } = {};
      let fault: Promise<void> = Promise.resolve();

      const writer = startWriter(cluster.url, token, cluster.caseIds.slice(75, 85), {
        drill: 'webhook-receiver',
        everyMs: 100,
      });
      let result: Awaited<ReturnType<typeof runLoad>>;
      try {
        result = await runLoad(
          {
            name: 'webhook-receiver',
            target: cluster.url,
            stages: steadyStages(seconds, rate),
            flows: readMix(token),
            onStart: (startMs) => {
              const at = () => ((performance.now() - startMs) / 1000).toFixed(3);
              fault = (async () => {
                await sleepUntil(startMs + downAt);
                await a.down();
                wall.down = Date.now();
                notes.push(`receiver A down at ${at()} s (${a.received.length} received)`);
                await sleepUntil(startMs + backAt);
                await a.up();
                wall.back = Date.now();
                notes.push(`receiver A back at ${at()} s`);
                await sleepUntil(startMs + slowAt);
                a.delayMs = slowMs;
                wall.slow = Date.now();
                notes.push(`receiver A slow (${slowMs} ms an answer) at ${at()} s`);
                await sleepUntil(startMs + fastAt);
                a.delayMs = 0;
                wall.fast = Date.now();
                notes.push(`receiver A fast again at ${at()} s`);
              })();
            },
          },
          {
            readIds: cluster.caseIds.slice(0, 50),
            terms: ['fraud', 'phishing', 'chargeback', 'invoice', 'device'],
          },
        );
        await fault;
      } finally {
        a.delayMs = 0;
        await a.up().catch(() => {}); // listening already, unless the fault failed part-way
      }
      const ledger = await writer.stop();
      await verifyWrites(cluster.pool, ledger);

      // Every event of the tenant published since the drill began, and when.
      const eventsSince = async () =>
        (
          await cluster.pool.query<{ id: string; occurred_at: string; body: string | null }>(
            `SELECT id::text, occurred_at::text, data->>'body' AS body FROM headroom.webhook_events
             WHERE tenant = $1 AND id > $2::bigint ORDER BY id`,
            [tenant, lastBefore],
          )
        ).rows;
      const missing = (receiver: Receiver, events: { id: string }[]) => {
        const got = receiver.firstReceipts();
        return events.filter((e) => !got.has(`msg_${e.id}`));
      };
      const waitUntil = performance.now() + deliverWithinMs;
      let events = await eventsSince();
      while (
        (missing(a, events).length > 0 || missing(b, events).length > 0) &&
        performance.now() < waitUntil
      ) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        events = await eventsSince();
      }
      const waitedMs = performance.now() - (waitUntil - deliverWithinMs);

      const atA = a.firstReceipts();
      const atB = b.firstReceipts();
      const down = wall.down ?? 0;
      const back = wall.back ?? 0;
      const between = (from = 0, to = 0) =>
        events.filter((e) => Number(e.occurred_at) >= from && Number(e.occurred_at) < to);
      const whileDown = between(down, back);
      const whileSlow = between(wall.slow, wall.fast);
      const missingA = missing(a, events);
      const missingB = missing(b, events);
      // A redelivered after it came back: each event of the outage, first received then.
      const redelivered = whileDown.filter((e) => (atA.get(`msg_${e.id}`) ?? 0) >= back);
      const lastRedeliveryMs = Math.max(0, ...redelivered.map((e) => atA.get(`msg_${e.id}`)! - back));
      /** From each event to its first receipt at `receipts` (infinite when never), ascending. */
      const latencies = (list: typeof events, receipts: Map<string, number>) =>
        list
          .map((e) => (receipts.get(`msg_${e.id}`) ?? Number.POSITIVE_INFINITY) - Number(e.occurred_at))
          .sort((x, y) => x - y);
      const p99 = (sorted: number[]) => sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
      const bLatencies = latencies([...whileDown, ...whileSlow], atB).sort((x, y) => x - y);
      const bBefore = latencies(between(0, down), atB);
      const aSlow = latencies(whileSlow, atA);
      const forged = [
        ...unverified(a.received, endpointA.secret),
        ...unverified(b.received, endpointB.secret),
      ];
      const markers = new Set(events.map((e) => e.body));
      const withoutEvent = ledger.acknowledged.filter((marker) => !markers.has(marker));
      const statuses = addCounts(statusCounts(result.cells), ledger.statuses);
      const failed = failedCount(statuses);
      const ids = (list: { id: string }[]) =>
        list
          .slice(0, 10)
          .map((e) => e.id)
          .join(', ');

      const checks = [
        check(
          'every event delivered to A',
          events.length > 0 && missingA.length === 0 && whileDown.length > 0,
          `${events.length - missingA.length} of ${events.length} events (${whileDown.length} published while A was down, ${redelivered.length} of them first received after it came back, the last ${(lastRedeliveryMs / 1000).toFixed(1)} s after)${missingA.length > 0 ? `; missing: ${ids(missingA)}` : ''}`,
        ),
        check(
          'every signature verifies',
          forged.length === 0 && a.received.length + b.received.length > 0,
          `${a.received.length} requests to A, ${b.received.length} to B verified with standardwebhooks; ${forged.length} did not${forged.length > 0 ? `: ${forged.slice(0, 3).join('; ')}` : ''}`,
        ),
        check(
          `B unaffected (p99 ≤ ${bLatencyP99Ms} ms while A was down or slow)`,
          missingB.length === 0 && bLatencies.length > 0 && p99(bLatencies) <= bLatencyP99Ms,
          `${events.length - missingB.length} of ${events.length} events delivered to B; event to B while A was down or slow: p99 ${p99(bLatencies).toFixed(0)} ms, max ${(bLatencies.at(-1) ?? 0).toFixed(0)} ms over ${bLatencies.length} (before: p99 ${p99(bBefore).toFixed(0)} ms over ${bBefore.length})`,
        ),
        check(
          'every acknowledged comment published its event',
          withoutEvent.length === 0,
          `${ledger.acknowledged.length - withoutEvent.length} of ${ledger.acknowledged.length} comments have their comment.created event`,
        ),
        check('every answer 2xx', failed === 0, `${failed} of the load and the writes otherwise or none`),
        noWriteLost(ledger),
      ];
      return drillResult('webhook-receiver', {
        checks,
        statuses,
        failed,
        ledger,
        recoveryMs: redelivered.length > 0 ? lastRedeliveryMs : undefined,
        durationMs: performance.now() - started,
        notes: [
          ...notes,
          `${rate} reads/s and 10 comments/s for ${Object.values(seconds).join(' + ')} s; achieved ${result.stages.map((s) => s.achievedRate.toFixed(0)).join(' / ')}; waited ${(waitedMs / 1000).toFixed(1)} s after the load for the deliveries (at most ${deliverWithinMs / 1000} s)`,
          `A slow: ${whileSlow.length} events published meanwhile reached it in p99 ${p99(aSlow).toFixed(0)} ms, max ${(aSlow.at(-1) ?? 0).toFixed(0)} ms`,
          `A received ${a.received.length} requests for ${atA.size} messages, B ${b.received.length} for ${atB.size}`,
        ],
      });
    } finally {
      // The next drill's comments publish nothing: the endpoints go, and the receivers with them.
      for (const endpoint of endpoints) await deleteEndpoint(cluster, admin, endpoint.id).catch(() => {});
      await a.down();
      await b.down();
    }
  },
};
