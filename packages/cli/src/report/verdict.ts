// The words every report shares: a check's stable title (`p95 ≤ 40 ms`), how each metric's figures are
// written, and the run's headline verdict.

import type { DrillVerdict } from '../gate/drill.ts';
import { type CheckResult, type GateResult, phaseOf } from '../gate/judge.ts';
import { isLatency } from './bounded.ts';

/** Metrics judged as floors (observed must reach the limit); the others are ceilings. */
const floors = new Set(['availability', 'throughput']);

/** Metrics that are shares of requests (0.001 is 0.1%). */
const ratios = new Set(['errors', 'availability', 'checks']);

/** A number without float noise: 0.999 * 100 is 99.9, not 99.89999999999999. */
const plain = (value: number) => String(Number(value.toPrecision(12)));

/**
 * A limit as the spec reads: `40 ms`, `0.1%`, `200/s`.
 *
 * @example
 * formatLimit('availability', 0.999); // '99.9%'
 */
export function formatLimit(metric: string, value: number): string {
  if (ratios.has(metric)) return `${plain(value * 100)}%`;
  if (metric === 'throughput') return `${plain(value)}/s`;
  return `${plain(value)} ms`;
}

/**
 * A measured figure: `38.20 ms`, `0.05%`, `199.8/s`; `–` when there is none.
 *
 * @example
 * formatObserved('p95', 38.2); // '38.20 ms'
 */
export function formatObserved(metric: string, value: number): string {
  if (Number.isNaN(value)) return '–';
  if (ratios.has(metric)) return `${(value * 100).toFixed(value === 0 || value === 1 ? 0 : 3)}%`;
  if (metric === 'throughput') return `${value.toFixed(1)}/s`;
  return `${value.toFixed(2)} ms`;
}

/**
 * The unit a metric's raw figure is in, for machine-readable output.
 *
 * @example
 * unitOf('p95'); // 'ms'
 */
export function unitOf(metric: string): string {
  return ratios.has(metric)
    ? 'ratio'
    : metric === 'throughput'
      ? 'per_second'
      : isLatency(metric) || phaseOf(metric) !== undefined
        ? 'ms'
        : '';
}

/**
 * A check's name that stays the same from run to run (the measured value is not in it), so CI history
 * follows one test per budget.
 *
 * @example
 * checkTitle({ metric: 'p95', limit: 40 }); // 'p95 ≤ 40 ms'
 */
export function checkTitle(check: Pick<CheckResult, 'metric' | 'limit'>): string {
  return `${check.metric} ${floors.has(check.metric) ? '≥' : '≤'} ${formatLimit(check.metric, check.limit)}`;
}

export type Headline = 'pass' | 'fail' | 'insufficient data' | 'not judged';

/**
 * The run's one-word verdict: `fail` when any route or drill fails, else `insufficient data` when any check
 * could not be judged (too few samples, no traffic), else `pass`. The gate itself only fails or passes (an exit
 * code); a headline must not call a run with unjudged budgets a pass.
 *
 * @example
 * headline(artifact.gate, artifact.drills); // 'insufficient data'
 */
export function headline(gate: GateResult | undefined, drills: readonly DrillVerdict[] = []): Headline {
  if (!gate && drills.length === 0) return 'not judged';
  if (drills.some((d) => d.verdict === 'fail')) return 'fail';
  if (gate && (gate.verdict === 'fail' || gate.routes.some((r) => r.verdict === 'fail'))) return 'fail';
  const insufficient =
    drills.some((d) => d.verdict === 'insufficient') ||
    (gate?.routes ?? []).some(
      (r) => r.verdict === 'insufficient' || r.checks.some((c) => c.verdict === 'insufficient'),
    );
  return insufficient ? 'insufficient data' : 'pass';
}

/**
 * The exit code a run's verdicts call for: 1 when the gate or a drill failed (insufficient data is not a
 * failure: it exits 0 and says so in the headline).
 *
 * @example
 * process.exitCode = exitCode(artifact.gate, artifact.drills);
 */
export function exitCode(gate: GateResult | undefined, drills: readonly DrillVerdict[] = []): 0 | 1 {
  return gate?.verdict === 'fail' || drills.some((d) => d.verdict === 'fail') ? 1 : 0;
}
