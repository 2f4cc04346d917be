// `npm run chaos`: starts casebook in scaled mode (cluster.ts), runs each drill in turn under steady load,
// prints a table and writes a JSON file; exit 1 when any drill fails.
//
//   npm run chaos                       # every drill, full length
//   npm run chaos -- --short            # the short forms (what CI runs)
//   npm run chaos -- --only redis       # one drill
//   npm run chaos -- --out results.json # where the JSON goes (default chaos/results/chaos-<time>.json)

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Cluster, type ClusterOptions, startCluster } from './cluster.ts';
import type { Drill, DrillResult } from './drill.ts';
import { config } from './drills/config.ts';
import { deploy } from './drills/deploy.ts';
import { kill } from './drills/kill.ts';
import { overload } from './drills/overload.ts';
import { pgbouncerRestart } from './drills/pgbouncer-restart.ts';
import { postgresPause } from './drills/postgres-pause.ts';
import { postgresRestart } from './drills/postgres-restart.ts';
import { redisKill } from './drills/redis.ts';
import { sharedCache } from './drills/shared-cache.ts';
import { tenants } from './drills/tenants.ts';
import { upstream } from './drills/upstream.ts';
import { webhookReceiver } from './drills/webhook-receiver.ts';

/** A drill, with the cluster mode it needs when not the default one (pgbouncer-restart: behind PgBouncer). */
type ChaosDrill = Drill & { cluster?: Pick<ClusterOptions, 'pooler'> };

/** Every drill, in the order they run (those that need another cluster mode after the rest, on a cluster of their own). */
export const drills: ChaosDrill[] = [
  redisKill,
  postgresPause,
  postgresRestart,
  overload,
  sharedCache,
  tenants,
  upstream,
  webhookReceiver,
  config,
  deploy,
  kill,
  pgbouncerRestart,
];

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    out: { type: 'string' },
  },
});
const chosen = values.only ? drills.filter((d) => values.only!.includes(d.name)) : drills;
const unknown = (values.only ?? []).filter((name) => !drills.some((d) => d.name === name));
if (unknown.length > 0 || chosen.length === 0) {
  console.error(
    `--only: no drill named ${unknown.join(', ')}; drills: ${drills.map((d) => d.name).join(', ')}`,
  );
  process.exit(2);
}
const short = values.short ?? false;
const out = resolve(
  values.out ??
    join(import.meta.dirname, 'results', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
);

const started = performance.now();
console.log(`chaos: ${chosen.map((d) => d.name).join(', ')} (${short ? 'short forms' : 'full length'})`);
// One cluster for the drills of the default mode, then one behind PgBouncer for those that ask for it: a
// pooler in front of every drill would change what the others measure.
const groups = [
  { pooler: false, drills: chosen.filter((d) => !d.cluster?.pooler) },
  { pooler: true, drills: chosen.filter((d) => d.cluster?.pooler) },
].filter((group) => group.drills.length > 0);
let cluster: Cluster | undefined;
// Ctrl-C: every process this run started is stopped before exiting.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the cluster`);
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

const results: DrillResult[] = [];
for (const group of groups) {
  if (interrupted) break;
  cluster = await startCluster({
    seedProfile: 'demo',
    pooler: group.pooler,
    log: (line) => console.log(`  ${line}`),
  });
  await runDrills(cluster, group.drills).finally(() => cluster?.stop());
}

/** Runs `some` in turn on `cluster`, each result in `results`. */
async function runDrills(cluster: Cluster, some: readonly Drill[]): Promise<void> {
  for (const drill of some) {
    if (interrupted) break;
    console.log(`\n${drill.name}: ${drill.proves}`);
    let result: DrillResult;
    const seen = cluster.instances.map((i) => i.errors.length);
    try {
      result = await drill.run(cluster, { short });
    } catch (error) {
      result = {
        drill: drill.name,
        pass: false,
        checks: [{ name: 'ran', verdict: 'fail', detail: String((error as Error).stack ?? error) }],
        statuses: {},
        failed: 0,
        writes: { sent: 0, acknowledged: 0, lost: 0 },
        recoveryMs: undefined,
        durationMs: 0,
        notes: [],
      };
    }
    // What casebook logged as errors meanwhile: the first lines, for the report.
    cluster.instances.forEach((instance, i) => {
      const lines = instance.errors.slice(seen[i]);
      for (const line of lines.slice(0, 3))
        result.notes.push(`casebook ${instance.name} logged: ${line.slice(0, 800)}`);
      if (lines.length > 3)
        result.notes.push(`casebook ${instance.name} logged ${lines.length - 3} more errors`);
    });
    for (const c of result.checks)
      console.log(`  ${c.verdict === 'pass' ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`);
    for (const note of result.notes) console.log(`  · ${note}`);
    results.push(result);
  }
}

const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${code}: ${n}`)
    .join(' ');
console.log('\n| drill | pass | requests by status | failed requests | lost writes | recovery |');
console.log('| --- | --- | --- | ---: | ---: | ---: |');
for (const r of results) {
  const recovery = r.recoveryMs === undefined ? '-' : `${(r.recoveryMs / 1000).toFixed(1)} s`;
  console.log(
    `| ${r.drill} | ${r.pass ? 'pass' : 'FAIL'} | ${statuses(r.statuses)} | ${r.failed} | ${r.writes.lost} of ${r.writes.acknowledged} | ${recovery} |`,
  );
}
const pass = results.length === chosen.length && results.every((r) => r.pass);
await mkdir(dirname(out), { recursive: true });
await writeFile(
  out,
  `${JSON.stringify({ short, pass, durationMs: performance.now() - started, drills: results }, null, 2)}\n`,
);
console.log(
  `\n${pass ? 'pass' : 'FAIL'} in ${((performance.now() - started) / 1000).toFixed(0)} s; JSON: ${out}`,
);
process.exit(pass ? 0 : 1);
