// Figures per stage and route template, as measured (corrected latency of admitted requests, refusals
// counted apart), before any judging.

import type { RunResult } from '../engine/run.ts';
import { maxMs } from '../report/bounded.ts';

/**
 * @example
 * console.log(stageTable(result));
 */
export function stageTable(result: RunResult): string {
  const lines = [
    '| stage | route | requests | refused (429/503) | p50 ms | p95 ms | p99 ms | max ms | 5xx+net | failed checks |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const order = new Map(result.stages.map((s, i) => [s.name, i]));
  const cells = [...result.cells].sort(
    (a, b) => (order.get(a.stage) ?? 0) - (order.get(b.stage) ?? 0) || a.route.localeCompare(b.route),
  );
  for (const c of cells) {
    const failures = (c.status['5xx'] ?? 0) + c.networkErrors;
    lines.push(
      `| ${c.stage} | \`${c.route}\` | ${c.count} | ${c.count - c.admitted} | ${c.percentileMs(50).toFixed(2)} | ${c.percentileMs(95).toFixed(2)} | ${c.percentileMs(99).toFixed(2)} | ${maxMs(c).toFixed(2)} | ${failures} | ${c.failedChecks} |`,
    );
  }
  return lines.join('\n');
}
