// The verdict table, for a terminal and for a PR comment (Markdown): one row per check, observed against
// its limit, and (given a baseline) the change since.

import { isLatency } from '../report/bounded.ts';
import { checkTitle, formatLimit, formatObserved, headline } from '../report/verdict.ts';
import { type GateResult, phaseOf } from './judge.ts';

export interface VerdictTableOptions {
  /** The same route's figure for a metric in a baseline run, for a `vs base` column. */
  baseline?: (route: string, metric: string) => number | undefined;
}

/**
 * How a figure moved from the baseline: latency and throughput relative (`+4.1%`), shares of requests in
 * percentage points (`+0.020 pp`), since 0.1% of errors against 0% is no percentage at all.
 *
 * @example
 * change('p95', 38.2, 36.7); // '+4.1%'
 */
export function change(metric: string, observed: number, base: number | undefined): string {
  if (base === undefined || Number.isNaN(base)) return 'not in base';
  if (Number.isNaN(observed)) return '–';
  const sign = (value: number) => (value > 0 ? '+' : value < 0 ? '−' : '±');
  if (isLatency(metric) || phaseOf(metric) !== undefined || metric === 'throughput') {
    if (base === 0) return observed === 0 ? '±0%' : 'base 0';
    const relative = ((observed - base) / base) * 100;
    return `${sign(relative)}${Math.abs(relative).toFixed(1)}%`;
  }
  const points = (observed - base) * 100;
  return `${sign(points)}${Math.abs(points).toFixed(3)} pp`;
}

/**
 * One row per check: `observed / limit`, the verdict (with why a check could not be judged), and with a
 * baseline the change since it; then the headline verdict and the gate's notes (phase budgets unmeasured).
 *
 * @example
 * console.log(verdictTable(judge(result, spec)));
 */
export function verdictTable(gate: GateResult, options: VerdictTableOptions = {}): string {
  const { baseline } = options;
  const lines = baseline
    ? [
        '| route | samples | check | observed / limit | vs base | verdict |',
        '| --- | ---: | --- | --- | --- | --- |',
      ]
    : ['| route | samples | check | observed / limit | verdict |', '| --- | ---: | --- | --- | --- |'];
  for (const route of gate.routes) {
    const cells = (check: string, figures: string, base: string, verdict: string) =>
      `| \`${route.route}\` | ${route.samples} | ${check} | ${figures} |${baseline ? ` ${base} |` : ''} ${verdict} |`;
    if (route.checks.length === 0) lines.push(cells('(no objective)', '–', '–', route.verdict));
    for (const check of route.checks) {
      const observed = check.observed;
      const base = baseline?.(route.route, check.metric);
      const vsBase =
        base === undefined
          ? 'not in base'
          : `${change(check.metric, observed, base)} (${formatObserved(check.metric, base)})`;
      const verdict =
        check.verdict === 'pass' ? 'pass' : `**${check.verdict}**${check.note ? ` (${check.note})` : ''}`;
      lines.push(
        cells(
          checkTitle(check),
          `${formatObserved(check.metric, observed)} / ${formatLimit(check.metric, check.limit)}`,
          vsBase,
          verdict,
        ),
      );
    }
  }
  lines.push('', `verdict: **${headline(gate)}**`);
  for (const note of gate.notes ?? []) lines.push('', `⚠ ${note}`);
  return lines.join('\n');
}
