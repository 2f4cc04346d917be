// Config: under steady load, an invalid casebook.yaml (one that breaks the schema, then one that does not parse)
// is written into the cluster's config directory: both instances must refuse it and keep the config in force, with
// no request failing. Then a Kubernetes ConfigMap update as kubelet makes it (a new `..<timestamp>` directory, a
// `..data_tmp` symlink renamed over `..data`, casebook.yaml a symlink through `..data`) that lowers the enterprise
// tier's page cap: both instances must apply it within 1 s of the rename, and serve pages of the new size.
//
// The cluster starts with a plain casebook.yaml; the drill turns the directory into the ConfigMap layout with the
// same bytes (an `unchanged` reload), swaps, and puts the plain file back at the end.

import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { until } from '@headroom/dev-servers/until';
import { type Cluster, type Instance, metricsOf } from '../cluster.ts';
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
import { getFlow, runLoad } from '../load.ts';
import { startWriter, verifyWrites } from '../probe.ts';
import { configVersion, saveFile } from '../settings.ts';

const goals = { appliedWithinMs: 1_000, rejectedWithinMs: 3_000 };
/** The enterprise tier's page cap after the swap (acme is enterprise; shipped: 100). */
const swappedPageCap = 37;
const pollEveryMs = 10;

/** What an instance says of its config: from /metrics and /health. */
interface ConfigReading {
  version: string;
  reloads: Record<string, number>;
  /** /health's `config:version` check: `pass` or `warn`. */
  health: string;
}

export const config: Drill = {
  name: 'config',
  proves:
    'an invalid casebook.yaml (schema, then syntax) refused by both instances with the last good config kept and 0 failed requests; a ConfigMap-style ..data swap applied on both ≤ 1 s after the rename',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short ? 10 : 30;
    const rate = short ? 100 : 200;
    const token = await cluster.login();
    const readIds = cluster.caseIds.slice(0, 100);
    const writeIds = cluster.caseIds.slice(100, 110);
    const file = join(cluster.configDir, 'casebook.yaml');
    const original = await readFile(file, 'utf8');
    const cap = /(\n {2}enterprise:\n(?: {4}.*\n)*? {4}pageCap: )\d+/;
    if (!cap.test(original)) throw new Error(`${file}: no tiers.enterprise.pageCap line`);
    const invalid = {
      schema: original.replace(cap, '$1"lots"'),
      syntax: `${original}\ntiers: { free: [unclosed\n`,
    };
    const notes: string[] = [];
    const rejections: { kind: string; ok: boolean; detail: string }[] = [];
    const applied: Record<string, number> = {};
    let visible = '';
    let fault: Promise<void> = Promise.resolve();
    const before = await readAll(cluster);
    const lastGood = before[0]!.version;
    if (before.some((r) => r.version !== lastGood))
      throw new Error('the instances start on different configs');

    const writer = startWriter(cluster.url, token, writeIds, { drill: 'config', everyMs: 100 });
    try {
      const result = await runLoad(
        {
          name: 'config',
          target: cluster.url,
          stages: [{ name: 'steady', seconds, rate }],
          flows: [
            getFlow('GET /v1/cases/:id', `/v1/cases/\${pick(vars.readIds)}`, token, 50),
            getFlow('GET /v1/cases/search', `/v1/cases/search?q=\${pick(vars.terms)}&limit=20`, token, 50),
          ],
          onStart: (startMs) => {
            const at = () => ((performance.now() - startMs) / 1000).toFixed(3);
            fault = (async () => {
              await sleepUntil(startMs + 1_000);
              for (const kind of ['schema', 'syntax'] as const) {
                const seen = await readAll(cluster);
                await saveFile(file, invalid[kind]);
                notes.push(`${kind}-invalid casebook.yaml written at ${at()} s`);
                rejections.push(await refusedEverywhere(cluster, kind, seen, lastGood));
              }
              // The ConfigMap layout, with the bytes in force: an `unchanged` reload, the warning cleared.
              await publish(cluster.configDir, 1, original);
              await symlink(join('..data', 'casebook.yaml'), `${file}.tmp`);
              await rename(`${file}.tmp`, file);
              await until(async () => (await readAll(cluster)).every((r) => r.health === 'pass'), {
                timeout: 5_000,
                interval: 50,
                what: 'both instances back to the last good file (the ..data layout)',
              });
              notes.push(`casebook.yaml → ..data/casebook.yaml (the last good bytes) at ${at()} s`);
              const renamed = await publish(
                cluster.configDir,
                2,
                original.replace(cap, `$1${swappedPageCap}`),
              );
              notes.push(`..data swapped at ${at()} s`);
              await Promise.all(
                cluster.instances.map(async (instance) => {
                  await until(async () => (await readMetrics(cluster, instance)).version !== lastGood, {
                    timeout: 5_000,
                    interval: pollEveryMs,
                    what: `${instance.name} to apply the swapped config`,
                  }).then(
                    () => {
                      applied[instance.name] = performance.now() - renamed;
                    },
                    () => {}, // never: the check says so
                  );
                }),
              );
              visible = await pageSizes(cluster, token);
            })();
          },
        },
        { readIds, terms: ['fraud', 'phishing', 'chargeback', 'invoice', 'device'] },
      );
      await fault;
      const after = await readAll(cluster);
      const ledger = await writer.stop();
      await verifyWrites(cluster.pool, ledger);

      const statuses = addCounts(statusCounts(result.cells), ledger.statuses);
      const failed = failedCount(statuses);
      const checks = [
        ...rejections.map((r) => check(`${r.kind}-invalid file refused, last good kept`, r.ok, r.detail)),
        check(
          '0 failed requests',
          failed === 0,
          `${failed} of ${Object.values(statuses).reduce((a, b) => a + b, 0)} (load and writes)`,
        ),
        ...cluster.instances.map((instance, i) => {
          const ms = applied[instance.name];
          const version = after[i]!.version;
          return check(
            `${instance.name}: swap applied ≤ ${goals.appliedWithinMs} ms`,
            ms !== undefined && ms <= goals.appliedWithinMs && version !== lastGood,
            `${ms === undefined ? 'never' : `${ms.toFixed(0)} ms`} from the rename to version ${version} in /metrics (was ${lastGood}; polled every ${pollEveryMs} ms)`,
          );
        }),
        check(
          'the new page cap served by both',
          visible === cluster.instances.map(() => swappedPageCap).join(' / '),
          `search pages of ${visible || 'none'} cases with limit=100 (enterprise pageCap ${swappedPageCap})`,
        ),
        noWriteLost(ledger),
      ];
      return drillResult('config', {
        checks,
        statuses,
        failed,
        ledger,
        recoveryMs: undefined,
        durationMs: performance.now() - started,
        notes: [
          ...notes,
          'the refusals are logged at error level ("config refused"): the lines below are expected',
          `${rate} requests/s for ${seconds} s; achieved ${result.stages[0]!.achievedRate.toFixed(0)}`,
        ],
      });
    } finally {
      await writer.stop();
      await restore(cluster, original, lastGood);
    }
  },
};

/** Each instance's config reading, in instance order. */
function readAll(cluster: Cluster): Promise<ConfigReading[]> {
  return Promise.all(cluster.instances.map((instance) => readConfig(cluster, instance)));
}

async function readConfig(cluster: Cluster, instance: Instance): Promise<ConfigReading> {
  const res = await fetch(`${instance.url}/health`, { headers: cluster.operatorHeaders });
  const body = (await res.json()) as { checks?: Record<string, { status: string }[]> };
  return {
    ...(await readMetrics(cluster, instance)),
    health: body.checks?.['config:version']?.[0]?.status ?? 'missing',
  };
}

/** The version in force and the reloads by result, from the instance's /metrics. */
async function readMetrics(cluster: Cluster, instance: Instance): Promise<Omit<ConfigReading, 'health'>> {
  const text = await metricsOf(cluster, instance);
  const version = configVersion(text);
  const reloads: Record<string, number> = {};
  for (const [, result, n] of text.matchAll(/headroom_config_reloads_total\{result="(\w+)"\} (\d+)/g))
    reloads[result!] = Number(n);
  return { version, reloads };
}

/**
 * Waits until both instances have counted one more rejected reload than in `seen`; the check holds when each then
 * still runs `lastGood` and /health warns.
 */
async function refusedEverywhere(
  cluster: Cluster,
  kind: string,
  seen: readonly ConfigReading[],
  lastGood: string,
): Promise<{ kind: string; ok: boolean; detail: string }> {
  const written = performance.now();
  const rejected = (readings: readonly ConfigReading[]) =>
    readings.every((r, i) => (r.reloads.rejected ?? 0) > (seen[i]!.reloads.rejected ?? 0));
  let readings = seen;
  await until(
    async () => {
      readings = await readAll(cluster);
      return rejected(readings);
    },
    {
      timeout: goals.rejectedWithinMs,
      interval: 50,
      what: `both instances to refuse the ${kind}-invalid file`,
    },
  ).catch(() => {});
  const ms = performance.now() - written;
  const ok = rejected(readings) && readings.every((r) => r.version === lastGood && r.health === 'warn');
  const detail = cluster.instances
    .map(
      (instance, i) =>
        `${instance.name}: rejected ${seen[i]!.reloads.rejected ?? 0} → ${readings[i]!.reloads.rejected ?? 0}, version ${readings[i]!.version}, /health config:version ${readings[i]!.health}`,
    )
    .join('; ');
  return { kind, ok, detail: `${detail} (seen ${ms.toFixed(0)} ms after the write; last good ${lastGood})` };
}

/**
 * A ConfigMap update as kubelet makes it: `..<generation>/casebook.yaml`, then `..data_tmp` → it renamed over
 * `..data`. Returns the performance-clock time of the rename.
 */
async function publish(dir: string, generation: number, text: string): Promise<number> {
  const data = `..chaos_${generation}`;
  await mkdir(join(dir, data));
  await writeFile(join(dir, data, 'casebook.yaml'), text);
  await symlink(data, join(dir, '..data_tmp'));
  const at = performance.now();
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  return at;
}

/** Puts the plain casebook.yaml back, removes the ConfigMap layout, waits until both run `lastGood` again. */
async function restore(cluster: Cluster, original: string, lastGood: string): Promise<void> {
  const dir = cluster.configDir;
  await saveFile(join(dir, 'casebook.yaml'), original);
  for (const name of ['..data', '..data_tmp', '..chaos_1', '..chaos_2'])
    await rm(join(dir, name), { recursive: true, force: true });
  await until(
    async () => (await readAll(cluster)).every((r) => r.version === lastGood && r.health === 'pass'),
    {
      timeout: 5_000,
      interval: 100,
      what: 'both instances back on the shipped casebook.yaml',
    },
  );
}

/** The size of a search page with limit=100 on each instance, `a / b`. */
async function pageSizes(cluster: Cluster, token: string): Promise<string> {
  const sizes: number[] = [];
  for (const { url } of cluster.instances) {
    const res = await fetch(`${url}/v1/cases/search?limit=100`, {
      headers: { authorization: `Bearer ${token}` },
    });
    sizes.push(res.status === 200 ? ((await res.json()) as { data: unknown[] }).data.length : -res.status);
  }
  return sizes.join(' / ');
}
