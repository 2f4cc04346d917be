// A Markdown summary of a run for a PR comment: the headline verdict, the stages (honesty first), then
// every check as observed / limit, with the change against a baseline run when one is given.

import type { RunArtifact } from '../artifact.ts';
import { routesOf } from '../compare/compare.ts';
import { drillTable } from '../gate/drill.ts';
import { verdictTable } from '../gate/table.ts';
import { baselineFigures } from './baseline.ts';
import { maxMs } from './bounded.ts';
import { headline } from './verdict.ts';

export interface MarkdownOptions {
  /** A run to compare against (`headroom report run.json --baseline base.json`). */
  baseline?: RunArtifact;
}

/**
 * @example
 * await writeFile('pr.md', markdownReport(artifact, { baseline }));
 */
export function markdownReport(artifact: RunArtifact, options: MarkdownOptions = {}): string {
  const { result } = artifact;
  const { baseline } = options;
  const routes = routesOf(artifact);
  const lines = [
    `### headroom: ${artifact.scenario.name} (${result.model} model) — ${headline(artifact.gate, artifact.drills)}`,
    '',
    `commit \`${artifact.commit.slice(0, 12)}\` on ${artifact.machine.cpus} × ${artifact.machine.cpuModel}, Node ${artifact.machine.node}`,
  ];
  if (artifact.release) {
    lines.push(
      '',
      `service under test: release \`${artifact.release.version}\`, commit \`${artifact.release.commit.slice(0, 12)}\``,
    );
  }
  if (baseline) {
    lines.push(
      '',
      `baseline: commit \`${baseline.commit.slice(0, 12)}\`${baseline.scenario.hash === artifact.scenario.hash ? ', same scenario' : ` — **a different scenario** (${baseline.scenario.name}, hash ${baseline.scenario.hash}): the changes compare unlike loads`}; one run against one run, so a few per cent is noise (\`headroom compare\` judges repeated runs)`,
    );
  }
  lines.push(
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
  );
  if (artifact.gate) {
    lines.push(verdictTable(artifact.gate, baseline ? { baseline: baselineFigures(baseline) } : {}));
  } else {
    lines.push(
      'Latency of admitted requests over the judged stages (no spec, so nothing judged):',
      '',
      '| route | requests | p50 ms | p95 ms | p99 ms | max ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...[...routes].map(
        ([route, s]) =>
          `| \`${route}\` | ${s.count} | ${[50, 95, 99].map((p) => s.percentileMs(p).toFixed(2)).join(' | ')} | ${maxMs(s).toFixed(2)} |`,
      ),
    );
  }
  for (const drill of artifact.drills ?? []) lines.push('', drillTable(drill));
  return `${lines.join('\n')}\n`;
}
