// The verdict table, for a terminal and for a PR comment (Markdown).

import type { GateResult } from './judge.ts';

const format = (metric: string, value: number): string =>
  Number.isNaN(value)
    ? '–'
    : metric === 'errors'
      ? `${(value * 100).toFixed(2)}%`
      : metric === 'throughput'
        ? `${value.toFixed(1)}/s`
        : `${value.toFixed(2)} ms`;

/**
 * One row per route: samples, each check as `observed / limit`, and the verdict.
 *
 * @example
 * console.log(verdictTable(judge(result, spec)));
 */
export function verdictTable(gate: GateResult): string {
  const lines = ['| route | samples | checks (observed / limit) | verdict |', '| --- | ---: | --- | --- |'];
  for (const route of gate.routes) {
    const checks = route.checks
      .map(
        (c) =>
          `${c.metric} ${format(c.metric, c.observed)} / ${format(c.metric, c.limit)}${c.verdict === 'pass' ? '' : ` **${c.verdict}**${c.note ? ` (${c.note})` : ''}`}`,
      )
      .join('; ');
    lines.push(
      `| \`${route.route}\` | ${route.samples} | ${checks || '(no objective)'} | ${route.verdict} |`,
    );
  }
  lines.push('', `gate: **${gate.verdict}**`);
  return lines.join('\n');
}
