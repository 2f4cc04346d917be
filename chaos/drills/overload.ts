// Overload: ten times the sustainable rate of database work (its capacity measured first, through nginx, on both
// instances). Beyond capacity only 429/503, each with Retry-After; what is admitted stays fast; back to normal
// ≤ 5 s after (the CLI's spike verdict, judgeSpike, on the same run).
//
// On two cores shared with the generator, nginx and PostgreSQL, the admitted requests' time went to the instances'
// sockets, before the door: hundreds of connections in each accept queue, nginx waiting up to 2.4 s for 503s that
// casebook produced in under 5 ms, while the door's queue, the search bulkhead and the pool waited milliseconds.
// Casebook's door refuses everything while requests keep arriving at a saturated event loop (`doorSaturation`,
// protection/limits.ts); the notes give the admitted p99 from the intended start and from the send, so time spent
// waiting for a socket in the generator shows apart.

import { encodeCursor } from '../../apps/casebook/src/http/cursor.ts';
import { judgeSpike } from '../../packages/cli/src/gate/spike.ts';
import { type Cluster, metricsOf } from '../cluster.ts';
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
import { getFlow, runLoad } from '../load.ts';
import { startProbe, startWriter, verifyWrites } from '../probe.ts';

const route = 'GET /v1/cases/search';
/** What the generator on this machine can offer beside the cluster; beyond it the factor is less than 10. */
const maxOfferedRate = Number(process.env.CHAOS_MAX_RATE ?? 3_000);
const goals = { factor: 10, admittedP99Ms: 500, recoveryMs: 5_000 };

export const overload: Drill = {
  name: 'overload',
  proves:
    '10 × the sustainable rate: only 429/503 beyond capacity, each with Retry-After; admitted p99 bounded; back to normal ≤ 5 s',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short
      ? { capacity: 3, normal: 3, spike: 4, after: 7 }
      : { capacity: 5, normal: 10, spike: 30, after: 10 };
    const token = await cluster.login();
    const writeIds = cluster.caseIds.slice(100, 110);
    // Full-text searches that all miss the cache: each cursor is a position after every case (the page is the
    // first one) but a cache key of its own, so every search is a PostgreSQL query, as with READ_CACHE=off.
    // The capacity run and the judged run draw from cursors of their own: runLoad seeds every run alike, so with
    // one list the judged run's first picks replayed the capacity run's, and its "normal" stage was ~90% cache
    // hits (one instance's pool waits: 20 queries in a second of 217 answers) while "after" was all queries: the baseline
    // p99 of hits against the p99 of queries read as "not back to normal".
    const terms = ['fraud', 'payment', 'account', 'device', 'transfer', 'chargeback'];
    const count = short ? 50_000 : 200_000;
    const cursors = Array.from({ length: 2 * count }, (_, i) =>
      encodeCursor({ at: '2999-12-31 23:59:59+00', id: 2 ** 31 - 1 - i }),
    );
    const flows = [
      getFlow(route, `/v1/cases/search?q=\${pick(vars.terms)}&limit=20&cursor=\${pick(vars.cursors)}`, token),
    ];
    const capacityVars = { cursors: cursors.slice(0, count), terms };
    const vars = { cursors: cursors.slice(count), terms };

    // Capacity: 32 users without think time; what both instances admit per second.
    const measured = await runLoad(
      {
        name: 'overload-capacity',
        target: cluster.url,
        stages: [{ name: 'capacity', seconds: seconds.capacity, vus: 32 }],
        flows,
      },
      capacityVars,
    );
    const admitted = mergeCells(measured.cells, 'capacity').status['2xx'] ?? 0;
    const capacity = Math.max(10, Math.round(admitted / seconds.capacity));
    // Normal traffic at a third of capacity: seed 004 provisions the database at half its capacity for the peak
    // (its "× 2 headroom"), and normal is below the peak. At half of capacity the saturated-loop shed already
    // refused 1-4% in single seconds before any spike on these shared cores (one full run's normal stage), and
    // "back to normal" was judged against a normal that was itself shedding.
    const normal = Math.round(capacity / 3);
    const offered = Math.min(goals.factor * capacity, maxOfferedRate);

    const writer = startWriter(cluster.url, token, writeIds, { drill: 'overload', everyMs: 100 });
    let probes = 0;
    const probe = startProbe(
      () => ({
        url: `${cluster.url}/v1/cases/search?q=fraud&limit=20&cursor=${vars.cursors[probes++ % count]}`,
        init: { headers: { authorization: `Bearer ${token}` } },
      }),
      { everyMs: 25 },
    );
    // Recovery compares p99s of tens of milliseconds on a shared machine: with no spike at all (CHAOS_MAX_RATE=250,
    // three short runs) the normal stage's p99 read 46, 75 and 87 ms, single seconds 20 to 120 ms, and "back to
    // normal" came 0, 1 and 4 s after a spike that never was. The criterion is kept, now that both stages do the
    // same work; a failure by a second or two here is more likely noise than an after-effect of the spike.
    const criteria = {
      stage: 'spike',
      baseline: 'normal',
      recoveryMs: goals.recoveryMs,
      p99Factor: 2,
      recoveryFactor: 1.2,
      refusals: [429, 503],
    };
    // Casebook's own count of what it refused, and why, read at each stage's bounds (reading /metrics every
    // second would add its own stalls to the seconds the recovery is judged on).
    const stageNames = ['normal', 'spike', 'after'] as const;
    let refusalReads: Promise<Map<string, number>[]> = Promise.resolve([]);
    const result = await runLoad(
      {
        name: 'overload',
        target: cluster.url,
        onStart: (startMs) => {
          refusalReads = (async () => {
            const readings: Map<string, number>[] = [];
            let at = startMs;
            for (const ends of [0, ...stageNames.map((name) => seconds[name] * 1000)]) {
              at += ends;
              await sleepUntil(at);
              readings.push(await refusalCounts(cluster).catch(() => new Map()));
            }
            return readings;
          })();
        },
        stages: [
          { name: 'normal', seconds: seconds.normal, rate: normal },
          { name: 'spike', seconds: seconds.spike, rate: offered },
          { name: 'after', seconds: seconds.after, rate: normal },
        ],
        flows,
        spike: criteria,
        // Enough sockets that the excess reaches casebook's door (which refuses it) instead of queueing in the
        // generator: at 64 the spike's arrivals waited for a free socket and the admitted p99 ran to seconds.
        connections: 512,
      },
      vars,
    );
    const [ledger, probed, readings] = await Promise.all([writer.stop(), probe.stop(), refusalReads]);
    await verifyWrites(cluster.pool, ledger);

    const verdict = judgeSpike(result, criteria);
    const byName = new Map(verdict.checks.map((c) => [c.name, c]));
    const spike = mergeCells(
      result.cells.filter((c) => c.stage === 'spike'),
      'spike',
    );
    const admittedP99 = spike.percentileMs(99);
    const statuses = addCounts(addCounts(statusCounts(result.cells), ledger.statuses), probed.statuses);
    const refusalsWithout = ledger.refusalsWithoutRetryAfter + probed.refusalsWithoutRetryAfter;
    const spikeReport = result.stages.find((s) => s.name === 'spike')!;
    const refused = (spike.codes[429] ?? 0) + (spike.codes[503] ?? 0);
    const checks = [
      check(
        'beyond capacity',
        refused > 0,
        `${refused} of ${spike.count} refused in the spike: ${refused > 0 ? 'casebook was overloaded' : 'the offer never went beyond what casebook admits, nothing was drilled'}`,
      ),
      byName.get('refusals only')!,
      check(
        'Retry-After on refusals',
        refusalsWithout === 0,
        `${refusalsWithout} of the probes' 429/503 without it (${probed.sent} reads, ${ledger.sent} writes sent beside the load)`,
      ),
      check(
        `admitted p99 ≤ ${goals.admittedP99Ms} ms`,
        spike.admitted > 0 && admittedP99 <= goals.admittedP99Ms,
        `${admittedP99.toFixed(1)} ms over ${spike.admitted} admitted in the spike (judgeSpike's own: ${byName.get('admitted p99')!.detail})`,
      ),
      byName.get('recovery')!,
      noWriteLost(ledger),
    ];
    return drillResult('overload', {
      checks,
      statuses,
      failed: failedCount(statuses, [429, 503]),
      ledger,
      recoveryMs: verdict.recoverySeconds === undefined ? undefined : verdict.recoverySeconds * 1000,
      durationMs: performance.now() - started,
      notes: [
        ...probed.unexpected.map((line) => `probe saw: ${line}`),
        `capacity ${capacity}/s admitted (32 users, ${seconds.capacity} s); normal ${normal}/s × ${seconds.normal} s, spike ${offered}/s × ${seconds.spike} s (${(offered / capacity).toFixed(1)} × capacity${offered < goals.factor * capacity ? `, capped by CHAOS_MAX_RATE=${maxOfferedRate}` : ''}), after ${normal}/s × ${seconds.after} s`,
        `per second, the spike from ${seconds.normal} s to ${seconds.normal + seconds.spike} s (answers, 503s, p99 ms): ${result.timeline
          .map((p) => `${p.t}s ${p.requests}/${p.codes?.['503'] ?? 0}/${p.p99.toFixed(0)}`)
          .join(', ')}`,
        `spike: admitted p99 ${admittedP99.toFixed(0)} ms from the intended start, ${spike.percentileMs(99, 'raw').toFixed(0)} ms from the send (p50 ${spike.percentileMs(50).toFixed(0)} / ${spike.percentileMs(50, 'raw').toFixed(0)} ms); refused p99 ${spike.percentileMs(99, 'refused').toFixed(0)} ms`,
        `casebook's refusals by limiter and reason (both instances' /metrics at each stage's bounds): ${refusalsByStage(stageNames, readings)}`,
        `spike achieved ${spikeReport.achievedRate.toFixed(0)}/s, ${spikeReport.lateStarts} late starts, ${spikeReport.dropped} dropped; generator event-loop p99 ${result.eventLoopDelayMs.p99.toFixed(1)} ms`,
      ],
    });
  },
};

/** `headroom_concurrency_rejected_total` by `limiter:reason`, summed over both instances. */
async function refusalCounts(cluster: Cluster): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const instance of cluster.instances) {
    const text = await metricsOf(cluster, instance);
    for (const [, limiter, reason, n] of text.matchAll(
      /headroom_concurrency_rejected_total\{limiter="([^"]+)",reason="([^"]+)"\} (\d+)/g,
    )) {
      counts.set(`${limiter}:${reason}`, (counts.get(`${limiter}:${reason}`) ?? 0) + Number(n));
    }
  }
  return counts;
}

/** What was counted between readings, stage by stage: `stage: limiter:reason n, …; …`. */
function refusalsByStage(names: readonly string[], readings: readonly Map<string, number>[]): string {
  return names
    .map((name, i) => {
      const [from, to] = [readings[i], readings[i + 1]];
      if (!from || !to) return `${name}: not read`;
      const deltas = [...to]
        .map(([key, n]) => [key, n - (from.get(key) ?? 0)] as const)
        .filter(([, n]) => n > 0)
        .map(([key, n]) => `${key} ${n}`);
      return `${name}: ${deltas.length ? deltas.join(', ') : 'none'}`;
    })
    .join('; ');
}
