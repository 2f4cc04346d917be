// A run artifact built in memory, for tests that compare or render runs without running load.

import type { RunArtifact } from '../../src/artifact.ts';
import type { RouteStats } from '../../src/stats/route-stats.ts';

/**
 * A one-stage ('steady', 1 s) artifact holding `cells`.
 *
 * @example
 * const artifact = runArtifact([cell]);
 */
export function runArtifact(cells: RouteStats[]): RunArtifact {
  const iterations = cells.reduce((sum, c) => sum + c.count, 0);
  return {
    format: 'headroom-run/1',
    scenario: { name: 's', hash: 'h' },
    commit: 'c',
    machine: { hostname: 'm', cpus: 2, cpuModel: 'x', memoryGiB: 1, node: 'v24' },
    result: {
      scenario: 's',
      target: 't',
      model: 'open',
      judgeThroughput: false,
      startedAt: '',
      durationMs: 1000,
      stages: [
        {
          name: 'steady',
          judge: true,
          durationMs: 1000,
          achievedRate: iterations,
          iterations,
          dropped: 0,
          lateStarts: 0,
        },
      ],
      cells: cells.map((c) => c.toJSON()),
      eventLoopDelayMs: { p50: 0, p99: 0, max: 0 },
      setupErrors: [],
      timeline: [],
    },
  };
}
