// The spike drill's verdict: a service taking ten times its load for a while must answer beyond its capacity
// only with refusals (429/503), keep the requests it admits fast (admitted p99 within a factor of the stage
// before), and be back to normal soon after (goal ≤ 5 s). Judged on a run's stage cells and its per-second
// cells; `headroom load` prints it (gate/drill.ts) and exits 1 when any criterion fails.

import type { RunResult } from '../engine/run.ts';
import type { SpikeCriteria } from '../scenario/scenario.ts';
import { RouteStats } from '../stats/route-stats.ts';
import { type DrillCheck, type DrillVerdict, drillVerdict } from './drill.ts';

export interface SpikeVerdict extends DrillVerdict {
  drill: 'spike';
  /** Seconds from the spike's end until normal again; undefined when it never got there in the run. */
  recoverySeconds: number | undefined;
}

/** "Back to normal" in a second: its refusals within 1 point of the baseline's share. */
const shareSlack = 0.01;
/**
 * And its admitted p99 within `recoveryFactor` (1.2) × the baseline's, or 2 ms above it (sub-millisecond p99s
 * move by more than 20% on scheduling noise alone).
 */
const p99Recovered = (baseline: number, factor: number) => Math.max(factor * baseline, baseline + 2);

/**
 * Judges `result` against `criteria`. Needs the run's per-second cells (a run on one thread).
 *
 * @example
 * const verdict = judgeSpike(result, scenario.spike);
 * if (verdict.verdict === 'fail') process.exitCode = 1;
 */
export function judgeSpike(result: RunResult, criteria: SpikeCriteria): SpikeVerdict {
  const stageCell = (name: string) => {
    const merged = new RouteStats(name, 'all');
    for (const cell of result.cells) if (cell.stage === name) merged.merge(cell);
    return merged;
  };
  const baseline = stageCell(criteria.baseline);
  const spike = stageCell(criteria.stage);
  const refusedShare = (cell: RouteStats) => {
    let refused = 0;
    for (const code of criteria.refusals) refused += cell.codes[code] ?? 0;
    return cell.count === 0 ? 0 : refused / cell.count;
  };
  const checks: DrillCheck[] = [];

  // 1. Beyond capacity, only refusals: any other 4xx or 5xx, or a request with no answer, fails.
  const others = Object.entries(spike.codes)
    .filter(([code]) => Number(code) >= 400 && !criteria.refusals.includes(Number(code)))
    .map(([code, n]) => `${n} × ${code}`);
  if (spike.networkErrors > 0) others.push(`${spike.networkErrors} without an answer`);
  const refused = criteria.refusals.map((code) => `${spike.codes[code] ?? 0} × ${code}`).join(', ');
  checks.push({
    name: 'refusals only',
    verdict: others.length === 0 && spike.count > 0 ? 'pass' : 'fail',
    detail:
      spike.count === 0
        ? `no answers in stage "${criteria.stage}"`
        : `${refused}${others.length ? `; also ${others.join(', ')}` : ''} of ${spike.count} in "${criteria.stage}"`,
  });

  // 2. What is admitted stays fast.
  const baseP99 = baseline.percentileMs(99);
  const spikeP99 = spike.percentileMs(99);
  const limit = criteria.p99Factor * baseP99;
  checks.push({
    name: 'admitted p99',
    verdict: baseline.admitted > 0 && spike.admitted > 0 && spikeP99 <= limit ? 'pass' : 'fail',
    detail: `${ms(spikeP99)} in "${criteria.stage}" ≤ ${criteria.p99Factor} × ${ms(baseP99)} of "${criteria.baseline}" (${ms(limit)})`,
  });

  // 3. Recovery: the first second after the spike that is back to normal (refusals within the baseline's share,
  // admitted p99 near the baseline's) and from which the rest of the run stays there: its refusals within the
  // share, and its admitted p99 too, or no more of its seconds above the p99 bound than the baseline itself had
  // for as many seconds. A one-second stall (a GC, a descheduled process) puts a second's p99 far above a
  // whole stage's, and decides the p99 of a short rest of the run alone: a normal stage with such seconds
  // fails a bound on every stretch of a few seconds of itself.
  const spikeEndMs = stageEnd(result, criteria.stage);
  const after = result.seconds.filter((cell) => Number(cell.stage) * 1000 > spikeEndMs);
  const shareBound = refusedShare(baseline) + shareSlack;
  const p99Bound = p99Recovered(baseP99, criteria.recoveryFactor);
  const slow = (cell: RouteStats) => cell.admitted > 0 && cell.percentileMs(99) > p99Bound;
  const baselineSeconds = result.seconds.filter((cell) => secondIn(result, cell, criteria.baseline));
  const slowShare =
    baselineSeconds.length === 0 ? 0 : baselineSeconds.filter(slow).length / baselineSeconds.length;
  let recoverySeconds: number | undefined;
  for (let i = 0; i < after.length; i++) {
    const rest = new RouteStats('rest', 'all');
    for (const cell of after.slice(i)) rest.merge(cell);
    const second = after[i]!;
    if (second.count === 0 || refusedShare(second) > shareBound || slow(second)) continue;
    if (refusedShare(rest) > shareBound) continue;
    const slowSeconds = after.slice(i).filter(slow).length;
    if (rest.percentileMs(99) > p99Bound && slowSeconds > Math.ceil(slowShare * (after.length - i))) continue;
    // A second's answers are those that completed in it: the second that ends at `t` began at `t - 1`.
    recoverySeconds = Math.max(0, (Number(second.stage) - 1) * 1000 - spikeEndMs) / 1000;
    break;
  }
  checks.push({
    name: 'recovery',
    verdict: recoverySeconds !== undefined && recoverySeconds * 1000 <= criteria.recoveryMs ? 'pass' : 'fail',
    detail:
      recoverySeconds === undefined
        ? `not back to normal before the run ended (refusals ≤ ${pct(shareBound)}, admitted p99 ≤ ${ms(p99Bound)}, seconds above it no more often than ${pct(slowShare)} of "${criteria.baseline}"'s)`
        : `back to normal ${recoverySeconds.toFixed(0)} s after the spike (≤ ${criteria.recoveryMs / 1000} s; refusals ≤ ${pct(shareBound)}, admitted p99 ≤ ${ms(p99Bound)}, seconds above it no more often than ${pct(slowShare)} of "${criteria.baseline}"'s)`,
  });
  return { ...drillVerdict('spike', checks), drill: 'spike', recoverySeconds };
}

// Whether a second's cell (its `stage` is the second that ends at it) lies wholly within `stage`.
function secondIn(result: RunResult, cell: RouteStats, stage: string): boolean {
  const endMs = stageEnd(result, stage);
  const startMs = endMs - (result.stages.find((s) => s.name === stage)?.durationMs ?? 0);
  const t = Number(cell.stage) * 1000;
  return t - 1000 >= startMs && t <= endMs;
}

// When `stage` ends, in ms from the first stage's start.
function stageEnd(result: RunResult, stage: string): number {
  let end = 0;
  for (const s of result.stages) {
    end += s.durationMs;
    if (s.name === stage) return end;
  }
  return end;
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
