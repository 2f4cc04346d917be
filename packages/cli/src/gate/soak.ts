// The soak's verdict: over a long stage at steady load, the target must not keep growing (a leak) and its
// latency must not creep (a queue, a cache or a table that fills). Seed 001 asks for < 10% memory over 6 h
// and a p95 that varies by < 10%. Judged on what the run kept for it: the target's own
// `process_resident_memory_bytes` read through the stage, and the stage cut into windows, each with its p95.
//
// - **rss slope**: the least-squares slope of the RSS samples in the stage, in MB an hour, at most the limit
//   (`soak.rssSlope`, else 10% of the first sample per 6 h). A slope, not first-vs-last: one garbage
//   collection just before the last sample would otherwise decide it.
// - **p95 drift**: the least-squares trend of the windows' p95s, from the stage's start to its end, at most
//   `p95Drift` of their mean; **p95 spread**: their standard deviation, at most the same share. Both with
//   1 ms of slack: a sub-millisecond p95 moves by more than 10% on scheduling noise alone.
//
// Too few samples to say (fewer than 3 readings of memory, or of windows with 200 admitted answers each) is
// `insufficient`, never a pass.

import type { RunResult } from '../engine/run.ts';
import type { SoakCriteria } from '../scenario/scenario.ts';
import { type DrillCheck, type DrillVerdict, drillVerdict } from './drill.ts';

export interface SoakVerdict extends DrillVerdict {
  drill: 'soak';
  /** MB an hour; undefined with fewer than 3 samples. */
  rssSlopeMBPerHour: number | undefined;
}

/** A window's p95 is judged on at least this many admitted answers (the gate's own floor for a p95). */
const windowSamples = 200;
/** Fewer readings than this give no slope worth judging. */
const minimumPoints = 3;
/** Latency moves by this much on scheduling noise alone. */
const slackMs = 1;
const MB = 1024 * 1024;

/**
 * Judges `result` against `criteria`.
 *
 * @example
 * const verdict = judgeSoak(result, scenario.soak);
 * if (verdict.verdict === 'fail') process.exitCode = 1;
 */
export function judgeSoak(result: RunResult, criteria: SoakCriteria): SoakVerdict {
  const { fromS, toS } = stageSpan(result, criteria.stage);
  const checks: DrillCheck[] = [];

  // 1. Memory: the samples taken inside the stage.
  const samples = (result.memory?.samples ?? []).filter((s) => s.t >= fromS && s.t <= toS);
  const failures = result.memory?.failures ?? [];
  let rssSlopeMBPerHour: number | undefined;
  if (samples.length < minimumPoints) {
    checks.push({
      name: 'rss slope',
      verdict: 'insufficient',
      detail: `${samples.length} readings of process_resident_memory_bytes in "${criteria.stage}", ${minimumPoints} needed${failures.length ? ` (${failures.length} failed: ${failures[0]})` : ''}`,
    });
  } else {
    const first = samples[0]!.bytes / MB;
    rssSlopeMBPerHour = slope(samples.map((s) => [s.t / 3600, s.bytes / MB]));
    const limit = criteria.rssSlopeMBPerHour ?? (first * 0.1) / 6;
    checks.push({
      name: 'rss slope',
      verdict: rssSlopeMBPerHour <= limit ? 'pass' : 'fail',
      detail: `${signed(rssSlopeMBPerHour)} MB/h over ${samples.length} readings from ${first.toFixed(1)} MB (≤ ${limit.toFixed(2)} MB/h${criteria.rssSlopeMBPerHour === undefined ? ': 10% over 6 h' : ''}; ${signed((rssSlopeMBPerHour * 6 * 100) / first)}% over 6 h at this rate)`,
    });
  }

  // 2. Latency: the windows with enough admitted answers for a p95.
  const windows = (result.windows ?? []).filter((w) => w.admitted >= windowSamples);
  if (windows.length < minimumPoints) {
    const detail = `${windows.length} windows of ${criteria.windowMs / 1000} s with ${windowSamples} admitted answers in "${criteria.stage}", ${minimumPoints} needed`;
    checks.push({ name: 'p95 drift', verdict: 'insufficient', detail });
    checks.push({ name: 'p95 spread', verdict: 'insufficient', detail });
  } else {
    const p95s = windows.map((w) => w.p95);
    const mean = p95s.reduce((a, b) => a + b, 0) / p95s.length;
    const allowed = Math.max(criteria.p95Drift * mean, slackMs);
    const bound = `≤ ${ms(allowed)}: ${pct(criteria.p95Drift)} of ${ms(mean)} or ${slackMs} ms`;
    const trend = slope(windows.map((w) => [w.t, w.p95])) * (windows.at(-1)!.t - windows[0]!.t);
    checks.push({
      name: 'p95 drift',
      verdict: trend <= allowed ? 'pass' : 'fail',
      detail: `${signed(trend)} ms from the first window to the last (${ms(p95s[0]!)} → ${ms(p95s.at(-1)!)}, ${windows.length} windows; ${bound})`,
    });
    const spread = Math.sqrt(p95s.reduce((sum, p) => sum + (p - mean) ** 2, 0) / p95s.length);
    checks.push({
      name: 'p95 spread',
      verdict: spread <= allowed ? 'pass' : 'fail',
      detail: `standard deviation ${ms(spread)} across ${windows.length} windows (${ms(Math.min(...p95s))} to ${ms(Math.max(...p95s))}; ${bound})`,
    });
  }
  return { ...drillVerdict('soak', checks), drill: 'soak', rssSlopeMBPerHour };
}

/**
 * The least-squares slope of `points` ([x, y] pairs); 0 when every x is the same.
 *
 * @example
 * slope([[0, 1], [1, 3], [2, 5]]); // 2
 */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

// The stage's span in seconds from the first stage's start.
function stageSpan(result: RunResult, stage: string): { fromS: number; toS: number } {
  let at = 0;
  for (const s of result.stages) {
    if (s.name === stage) return { fromS: at / 1000, toS: (at + s.durationMs) / 1000 };
    at += s.durationMs;
  }
  return { fromS: 0, toS: at / 1000 };
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
