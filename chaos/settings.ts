// The cluster's casebook.yaml as drills change it: rename-saved as an editor saves, hot-reloaded by both
// instances (the drill goes on once both report the new version in /metrics), and put back afterwards.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { until } from '@headroom/dev-servers/until';
import { type Cluster, type Instance, metricsOf } from './cluster.ts';

/** Rename-save, as an editor does: the file is replaced whole. */
export async function saveFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** The config version an instance's /metrics text says it runs (`headroom_config_info{version}`). */
export function configVersion(metrics: string): string {
  return /headroom_config_info\{version="([^"]+)"/.exec(metrics)?.[1] ?? '';
}

async function versionOf(cluster: Cluster, instance: Instance): Promise<string> {
  return configVersion(await metricsOf(cluster, instance));
}

export interface ChangedSettings {
  /** Puts the file back as it was and waits until both instances run it again. */
  restore(): Promise<void>;
}

/**
 * Rewrites the cluster's casebook.yaml with `edit` and waits (≤ 5 s) until both instances run a new version;
 * puts the old file back if they do not.
 *
 * @example
 * const settings = await changeSettings(cluster, (yaml) => yaml.replace(/ttl: \d+/, 'ttl: 1000'));
 * try { ... } finally { await settings.restore(); }
 */
export async function changeSettings(
  cluster: Cluster,
  edit: (yaml: string) => string,
): Promise<ChangedSettings> {
  const file = join(cluster.configDir, 'casebook.yaml');
  const original = await readFile(file, 'utf8');
  const changed = edit(original);
  if (changed === original) throw new Error(`${file}: the edit changed nothing`);
  const versions = () => Promise.all(cluster.instances.map((i) => versionOf(cluster, i)));
  const before = await versions();
  const running = (want: (version: string, i: number) => boolean, what: string) =>
    until(async () => (await versions()).every(want), { timeout: 5_000, interval: 50, what });
  await saveFile(file, changed);
  try {
    await running((v, i) => v !== '' && v !== before[i], 'both instances to apply the changed casebook.yaml');
  } catch (error) {
    await saveFile(file, original);
    throw error;
  }
  return {
    async restore() {
      await saveFile(file, original);
      await running((v, i) => v === before[i], 'both instances to run the restored casebook.yaml');
    },
  };
}

/** A tier's quota in force, as casebook sends it in RateLimit-Policy. */
export interface QuotaInForce {
  /** The RateLimit-Policy header. */
  policy: string;
  perSecond: number;
  burst: number;
}

/**
 * Sets the free tier's rate limit in casebook.yaml to `quota` (before QUOTA_SCALE) and reads the quota in force
 * back from the RateLimit-Policy header a free tenant (`token`) gets. Restore with the returned settings.
 *
 * @example
 * const { quota, settings } = await setFreeQuota(cluster, token, caseId, { limit: 1, window: 100_000, burst: 1 });
 */
export async function setFreeQuota(
  cluster: Cluster,
  token: string,
  caseId: number,
  quota: { limit: number; window: number; burst: number },
): Promise<{ quota: QuotaInForce; settings: ChangedSettings }> {
  const free = /(\n {2}free:\n {4}rateLimit: )\{[^}]*\}/;
  const settings = await changeSettings(cluster, (yaml) => {
    if (!free.test(yaml)) throw new Error('casebook.yaml: no tiers.free.rateLimit line to change');
    return yaml.replace(free, `$1{ limit: ${quota.limit}, window: ${quota.window}, burst: ${quota.burst} }`);
  });
  const res = await fetch(`${cluster.instances[0].url}/v1/cases/${caseId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  const policy = res.headers.get('ratelimit-policy') ?? '';
  const [, q, w] = /;q=(\d+);w=(\d+)/.exec(policy) ?? [];
  const perSecond = Number(q) / Number(w);
  if (!(perSecond > 0)) {
    await settings.restore();
    throw new Error(`no quota in the RateLimit-Policy ${JSON.stringify(policy)}`);
  }
  // GCRA's burst scales with the limit: QUOTA_SCALE × the file's.
  return { quota: { policy, perSecond, burst: (quota.burst * Number(q)) / quota.limit }, settings };
}
