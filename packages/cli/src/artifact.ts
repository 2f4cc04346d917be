// A run's saved form: compact (merged HDR histograms per stage and route) and self-describing (commit,
// machine, scenario hash), so runs can be compared and shards merged later.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpus, hostname, totalmem } from 'node:os';
import type { RunResult } from './engine/run.ts';
import type { DrillVerdict } from './gate/drill.ts';
import type { GateResult } from './gate/judge.ts';
import type { Release } from './release.ts';
import type { Scenario } from './scenario/scenario.ts';
import type { RouteStatsJson } from './stats/route-stats.ts';

export interface RunArtifact {
  format: 'headroom-run/1';
  scenario: { name: string; hash: string };
  /** Where the load generator ran from (git HEAD of the working directory). */
  commit: string;
  /** The build of the service under test: its version and commit, from the flags or its headroom_build_info. */
  release?: Release;
  machine: { hostname: string; cpus: number; cpuModel: string; memoryGiB: number; node: string };
  result: Omit<RunResult, 'cells' | 'seconds'> & { cells: RouteStatsJson[] };
  gate?: GateResult;
  /** The scenario's drills (spike, soak), judged on the run. */
  drills?: DrillVerdict[];
}

/**
 * Builds the artifact of a run.
 *
 * @example
 * await writeFile('run.json', JSON.stringify(toArtifact(scenario, result, gate, release, [judgeSoak(result, scenario.soak)])));
 */
export function toArtifact(
  scenario: Scenario,
  result: RunResult,
  gate?: GateResult,
  release?: Release,
  drills: DrillVerdict[] = [],
): RunArtifact {
  const { cells, seconds: _inMemoryOnly, ...rest } = result;
  return {
    format: 'headroom-run/1',
    scenario: {
      name: scenario.name,
      hash: createHash('sha256')
        .update(JSON.stringify({ ...scenario, target: '' }))
        .digest('hex')
        .slice(0, 16),
    },
    commit: gitCommit(),
    ...(release ? { release } : {}),
    machine: {
      hostname: hostname(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    result: { ...rest, cells: cells.map((c) => c.toJSON()) },
    ...(gate ? { gate } : {}),
    ...(drills.length ? { drills } : {}),
  };
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}
