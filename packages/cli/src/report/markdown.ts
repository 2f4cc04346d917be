// A Markdown summary of a run for a PR comment: stages (honesty first), then the verdict table.

import type { RunArtifact } from '../artifact.ts';
import { verdictTable } from '../gate/table.ts';

/**
 * @example
 * await writeFile('headroom.md', markdownReport(artifact));
 */
export function markdownReport(artifact: RunArtifact): string {
  const { result } = artifact;
  const lines = [
    `### headroom: ${artifact.scenario.name} (${result.model} model) — ${artifact.gate?.verdict ?? 'not judged'}`,
    '',
    `commit \`${artifact.commit.slice(0, 12)}\` on ${artifact.machine.cpus} × ${artifact.machine.cpuModel}, Node ${artifact.machine.node}`,
    '',
    '| stage | target /s | achieved /s | iterations | dropped | late starts |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...result.stages.map(
      (s) =>
        `| ${s.name}${s.judge ? '' : ' (not judged)'} | ${s.targetRate?.toFixed(1) ?? '–'} | ${s.achievedRate.toFixed(1)} | ${s.iterations} | ${s.dropped} | ${s.lateStarts} |`,
    ),
    '',
    `generator event-loop delay p99 ${result.eventLoopDelayMs.p99.toFixed(1)} ms`,
    '',
  ];
  if (artifact.gate) lines.push(verdictTable(artifact.gate));
  return `${lines.join('\n')}\n`;
}
