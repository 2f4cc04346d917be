// Tenants: a noisy tenant at 20 × its quota beside two quiet ones. The quiet tenants' reads are measured alone
// first, then with the noisy tenant beside them: their p99 must stay within 20% of the solo run and none of their
// requests may be refused; the noisy tenant must be held to its quota (the excess answered 429).
//
// The cluster raises every quota 1000 × (QUOTA_SCALE), which would put 20 × a free tenant's quota at 200,000
// requests a second. So the drill lowers the free tier's quota in the cluster's casebook.yaml (hot-reloaded by both
// instances), reads the quota in force back from the RateLimit-Policy header, and puts it back afterwards.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { until } from '@headroom/dev-servers/until';
import type { Cluster } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  drillResult,
  failedCount,
  mergeCells,
  noWriteLost,
  statusCounts,
} from '../drill.ts';
import { getFlow, runLoad } from '../load.ts';
import { startWriter, verifyWrites } from '../probe.ts';

/** The noisy tenant is the free one; acme (enterprise) and globex (pro) are quiet. */
const noisy = 'initech';
const quiet = ['acme', 'globex'] as const;
const goals = { overQuota: 20, p99Factor: 1.2 };
/** The free tier's quota while the drill runs, before QUOTA_SCALE: 1 request per 100 s, i.e. 10/s at × 1000. */
const drillQuota = { limit: 1, window: 100_000, burst: 1 };

export const tenants: Drill = {
  name: 'tenants',
  proves:
    "a noisy tenant at 20 × its quota beside two quiet ones: the quiet tenants' p99 within 20% of their solo run, none of their requests refused",
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short ? 9 : 30;
    // Enough quiet requests a run for a p99 that is not one unlucky answer: 2 × 100/s × 9 s = 1,800 (short).
    const quietRate = 100;
    const tokens: Record<string, string> = {};
    const ids: Record<string, number[]> = {};
    for (const slug of [noisy, ...quiet]) {
      tokens[slug] = await cluster.login(`analyst@${slug}.test`);
      const { rows } = await cluster.pool.query<{ id: number }>(
        'SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = $1 ORDER BY c.id LIMIT 100',
        [slug],
      );
      ids[slug] = rows.map((row) => row.id);
    }
    const flow = (slug: string) =>
      getFlow('GET /v1/cases/:id', `/v1/cases/\${pick(vars.${slug})}?expand=owner`, tokens[slug]!);
    const notes: string[] = [];
    const writer = startWriter(cluster.url, tokens.acme!, cluster.caseIds.slice(190, 200), {
      drill: 'tenants',
      everyMs: 100,
    });

    const quota = await lowerFreeQuota(cluster, tokens[noisy]!, ids[noisy]![0]!);
    try {
      const noisyRate = goals.overQuota * quota.perSecond;
      notes.push(
        `${noisy}'s quota in force: ${quota.policy} (${quota.perSecond}/s, burst ${quota.burst}); offered ${noisyRate}/s`,
        // GCRA keeps a tenant's bucket across a reload: the debt run up under the lowered quota outlives it.
        `${noisy} stays refused after the restore until its debt runs out: up to ${quota.burst / quota.perSecond} s (burst / rate)`,
      );
      // One run a tenant, all at once: the engine names its cells by route template, not by flow, so a
      // tenant's answers are told apart by the run that sent them.
      const load = (stage: string, slug: string, rate: number, length = seconds) =>
        runLoad(
          {
            name: `tenants-${stage}-${slug}`,
            target: cluster.url,
            stages: [{ name: stage, seconds: length, rate }],
            flows: [flow(slug)],
            connections: 32,
          },
          ids,
        );
      // Solo: the quiet tenants alone, after a warm-up (connections, JIT, caches) that is not measured.
      await Promise.all(quiet.map((slug) => load('warm', slug, quietRate, 2)));
      const solo = await Promise.all(quiet.map((slug) => load('solo', slug, quietRate)));
      // The noisy tenant's burst spent first, so that what follows is 20 × its sustained quota.
      const drain = await runLoad(
        {
          name: 'tenants-drain',
          target: cluster.url,
          stages: [{ name: 'drain', seconds: 1.5, vus: 4 }],
          flows: [flow(noisy)],
        },
        ids,
      );
      const drained = mergeCells(drain.cells, 'drain');
      notes.push(`burst drained: ${drained.codes[200] ?? 0} admitted, ${drained.codes[429] ?? 0} refused`);
      const beside = await Promise.all([
        ...quiet.map((slug) => load('noisy', slug, quietRate)),
        load('noisy', noisy, noisyRate),
      ]);
      const ledger = await writer.stop();
      await verifyWrites(cluster.pool, ledger);

      const runs = [...solo, ...beside];
      const all = (run: (typeof runs)[number]) => mergeCells(run.cells, run.scenario);
      const checks = quiet.flatMap((slug, i) => {
        const [alone, near] = [all(solo[i]!), all(beside[i]!)];
        const [p99Alone, p99Near] = [alone.percentileMs(99), near.percentileMs(99)];
        const refused = ['429', '503'].reduce(
          (n, code) => n + (alone.codes[code] ?? 0) + (near.codes[code] ?? 0),
          0,
        );
        const failed = failedCount(statusCounts([alone, near]));
        const figures = (cell: typeof alone) =>
          `${cell.count} answers, p50 ${cell.percentileMs(50).toFixed(2)} ms, p99 ${cell.percentileMs(99).toFixed(2)} ms, max ${(cell.corrected.maxValue / 1000).toFixed(1)} ms`;
        notes.push(`${slug}: solo ${figures(alone)}; beside the noisy tenant ${figures(near)}`);
        return [
          check(
            `${slug}: p99 within ${Math.round((goals.p99Factor - 1) * 100)}% of solo`,
            alone.count > 0 && near.count > 0 && p99Near <= goals.p99Factor * p99Alone,
            `${p99Near.toFixed(2)} ms beside the noisy tenant, ${p99Alone.toFixed(2)} ms alone (${(p99Near / p99Alone).toFixed(2)} ×)`,
          ),
          check(
            `${slug}: none refused`,
            refused === 0 && failed === 0,
            `${refused} refused, ${failed} failed of ${alone.count + near.count}`,
          ),
        ];
      });
      const loud = all(beside[quiet.length]!);
      const admittedPerSecond = (loud.codes[200] ?? 0) / seconds;
      checks.push(
        check(
          `${noisy} held to its quota`,
          (loud.codes[429] ?? 0) > 0 && admittedPerSecond <= 1.5 * quota.perSecond,
          `${admittedPerSecond.toFixed(1)}/s admitted of ${noisyRate}/s offered (quota ${quota.perSecond}/s), ${loud.codes[429] ?? 0} answered 429`,
        ),
        noWriteLost(ledger),
      );
      const quietStatuses = addCounts(
        statusCounts([...solo, ...beside.slice(0, quiet.length)].map(all)),
        ledger.statuses,
      );
      return drillResult('tenants', {
        checks,
        statuses: addCounts(statusCounts([...runs.map(all), drained]), ledger.statuses),
        // The noisy tenant's 429s are the point; any other answer outside 2xx is a failure.
        failed: failedCount(quietStatuses) + failedCount(statusCounts([loud, drained]), [429]),
        ledger,
        recoveryMs: undefined,
        durationMs: performance.now() - started,
        notes: [
          ...notes,
          `${quiet.join(', ')} at ${quietRate}/s each for ${seconds} s alone, then beside ${noisy} at ${noisyRate}/s for ${seconds} s; achieved ${runs.map((r) => r.stages[0]!.achievedRate.toFixed(0)).join(' / ')}; late starts ${runs.reduce((n, r) => n + r.stages[0]!.lateStarts, 0)}; generator event-loop p99 ${runs.map((r) => r.eventLoopDelayMs.p99.toFixed(1)).join(' / ')} ms`,
        ],
      });
    } finally {
      await writer.stop();
      await quota.restore();
    }
  },
};

interface LoweredQuota {
  /** The RateLimit-Policy of the free tier while lowered, as casebook sends it. */
  policy: string;
  perSecond: number;
  burst: number;
  /** Puts the shipped casebook.yaml back and waits until both instances use it again. */
  restore(): Promise<void>;
}

/**
 * Writes the free tier's `drillQuota` into the cluster's casebook.yaml and waits until both instances send the new
 * RateLimit-Policy to the noisy tenant; the quota in force (QUOTA_SCALE included) is read back from that header.
 */
async function lowerFreeQuota(cluster: Cluster, token: string, caseId: number): Promise<LoweredQuota> {
  const file = join(cluster.configDir, 'casebook.yaml');
  const original = await readFile(file, 'utf8');
  const free = /(\n {2}free:\n {4}rateLimit: )\{[^}]*\}/;
  if (!free.test(original)) throw new Error(`${file}: no tiers.free.rateLimit line to lower`);
  const save = async (text: string) => {
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
  };
  const policyOf = async (url: string) => {
    const res = await fetch(`${url}/v1/cases/${caseId}`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.headers.get('ratelimit-policy') ?? '';
  };
  const shipped = await policyOf(cluster.instances[0].url);
  const everywhere = (want: (policy: string) => boolean, what: string) =>
    until(
      async () => {
        for (const { url } of cluster.instances) if (!want(await policyOf(url))) return false;
        return true;
      },
      { timeout: 5_000, interval: 100, what },
    );
  await save(
    original.replace(
      free,
      `$1{ limit: ${drillQuota.limit}, window: ${drillQuota.window}, burst: ${drillQuota.burst} }`,
    ),
  );
  try {
    await everywhere((policy) => policy !== '' && policy !== shipped, 'both instances to lower the quota');
  } catch (error) {
    await save(original);
    throw error;
  }
  const policy = await policyOf(cluster.instances[0].url);
  const [, q, w] = /;q=(\d+);w=(\d+)/.exec(policy) ?? [];
  const perSecond = Number(q) / Number(w);
  if (!(perSecond > 0)) throw new Error(`no quota in the RateLimit-Policy ${JSON.stringify(policy)}`);
  return {
    policy,
    perSecond,
    // GCRA's burst scales with the limit: QUOTA_SCALE × the file's.
    burst: (drillQuota.burst * Number(q)) / drillQuota.limit,
    async restore() {
      await save(original);
      await everywhere((p) => p === shipped, 'both instances to restore the quota');
    },
  };
}
