// The gate: each route's figures over the judged stages, against the spec's objectives: latency percentiles,
// error and availability budgets, throughput floors, and each phase's p95 from the server's `Server-Timing`.

import type { Objective, Percentile, Spec, StatusPattern } from '@headroom/core/slo';
import type { RunResult } from '../engine/run.ts';
import { RouteStats } from '../stats/route-stats.ts';

export type Verdict = 'pass' | 'fail' | 'insufficient';

export interface CheckResult {
  /** `p95`, `errors`, `availability`, `checks`, `throughput`, or a phase's `phase db p95`. */
  metric: string;
  /** The phase a phase budget's check is about (`db`). */
  phase?: string;
  observed: number;
  limit: number;
  verdict: Verdict;
  /** Why a check could not be judged. */
  note?: string;
}

export interface RouteVerdict {
  route: string;
  objective?: string;
  samples: number;
  checks: CheckResult[];
  verdict: Verdict | 'unjudged';
}

/** What the gate needs of a route: a run's merged histograms, or the summary figures of an import. */
export interface RouteFigures {
  /** Every request that ended. */
  count: number;
  /** Requests that were not refused (429, 503): the samples latency budgets judge. */
  admitted: number;
  /** Share of requests answered with one of `statuses`, or not answered at all. */
  share(statuses: readonly StatusPattern[]): number;
  /** Share of requests whose checks (expected status, `expect`) failed. */
  failedCheckShare: number;
  /** Admitted requests' latency in ms, or undefined when the source lacks this percentile (an import). */
  percentileMs(p: number): number | undefined;
  /**
   * Admitted answers that carried `Server-Timing` (read on routes with phase budgets); undefined for a source
   * that cannot have it (a k6 or autocannon summary), whose phase budgets are then not judged.
   */
  timed?: number;
  /** Admitted answers in which `phase` ran. */
  phaseCount?(phase: string): number;
  /** `phase`'s percentile in ms over the answers in which it ran. */
  phasePercentileMs?(phase: string, p: number): number;
}

/** What the gate is told beyond the spec. */
export interface JudgeOptions {
  /** Judged duration in seconds, for throughput floors; 0 leaves throughput unjudged. @default 0 */
  seconds?: number;
  /** Largest share of requests whose checks may fail (the scenario's `checks`). @default 0 */
  checkFailures?: number;
}

export interface GateResult {
  verdict: 'pass' | 'fail';
  routes: RouteVerdict[];
  /** What a reader must know beyond the rows: phase budgets nobody measured, or that a source has none. */
  notes?: string[];
}

/**
 * Samples a percentile needs before it is judged: at least 10 observations beyond it, so a p99 needs 1,000
 * samples and a p50 needs 20. Fewer, and the figure is noise; the gate says so instead of guessing.
 */
export function minimumSamples(p: number): number {
  return Math.ceil(10 / (1 - p / 100));
}

const percentileValue: Record<Percentile, number> = { p50: 50, p90: 90, p95: 95, p99: 99, 'p99.9': 99.9 };

/**
 * The metric of a phase budget's check: phases are budgeted at p95.
 *
 * @example
 * phaseMetric('db'); // 'phase db p95'
 */
export const phaseMetric = (phase: string): string => `phase ${phase} p95`;

/**
 * The phase a check's metric is about, if it is a phase budget's.
 *
 * @example
 * phaseOf('phase db p95'); // 'db'
 * phaseOf('p95'); // undefined
 */
export const phaseOf = (metric: string): string | undefined => /^phase (\S+) p95$/.exec(metric)?.[1];

/**
 * The phases the generator reads from `Server-Timing`, by route (`GET /v1/cases/:id`): each objective's
 * budgeted ones. Routes without phase budgets are absent, and their answers' headers are not searched.
 *
 * @example
 * runScenario(scenario, { routes, phases: phaseNames(spec) });
 */
export function phaseNames(spec: Spec | undefined): Record<string, string[]> {
  const names: Record<string, string[]> = {};
  for (const o of spec?.objectives ?? [])
    if (o.phases) names[`${o.method} ${o.route}`] = Object.keys(o.phases);
  return names;
}

/**
 * Judges a run against a spec. A route without an objective is judged on its checks only; an objective
 * whose route got no traffic is `insufficient`. Any `fail` fails the gate.
 *
 * @example
 * const gate = judge(result, spec, { checkFailures: 0 });
 * process.exitCode = gate.verdict === 'fail' ? 1 : 0;
 */
export function judge(result: RunResult, spec: Spec | undefined, options: JudgeOptions = {}): GateResult {
  const judged = new Set(result.stages.filter((s) => s.judge).map((s) => s.name));
  const seconds = result.stages.filter((s) => s.judge).reduce((sum, s) => sum + s.durationMs, 0) / 1000;
  const byRoute = new Map<string, RouteStats>();
  for (const cell of result.cells) {
    if (!judged.has(cell.stage)) continue;
    const merged = byRoute.get(cell.route) ?? new RouteStats('judged', cell.route);
    byRoute.set(cell.route, merged);
    merged.merge(cell);
  }
  return judgeFigures(byRoute, spec, { ...options, seconds: result.judgeThroughput ? seconds : 0 });
}

/**
 * Judges per-route figures from any source (a run, an imported k6 or autocannon summary).
 *
 * @example
 * judgeFigures(new Map([['GET /x', figures]]), spec, { seconds: 60 });
 */
export function judgeFigures(
  byRoute: Map<string, RouteFigures>,
  spec: Spec | undefined,
  options: JudgeOptions = {},
): GateResult {
  const seconds = options.seconds ?? 0;
  const checkFailures = options.checkFailures ?? 0;
  const objectives = new Map((spec?.objectives ?? []).map((o) => [`${o.method} ${o.route}`, o]));
  const routes: RouteVerdict[] = [];
  const notes: string[] = [];
  const unjudgedPhases: string[] = [];
  for (const [route, stats] of [...byRoute].sort(([a], [b]) => a.localeCompare(b))) {
    const objective = objectives.get(route);
    const checks = judgeChecks(stats, checkFailures);
    if (objective?.phases && stats.timed === undefined)
      unjudgedPhases.push(`${route} (${Object.keys(objective.phases).join(', ')})`);
    else if (objective?.phases && stats.timed === 0 && stats.admitted > 0)
      notes.push(
        `${route}: its phase budgets were not measured: none of its ${stats.admitted} admitted answers carried a Server-Timing header. Enable Server-Timing on the server for this run (@headroom/fastify: the serverTiming option); a budget nobody measured is not met, so the gate fails.`,
      );
    if (objective) routes.push(judgeRoute(route, stats, objective, seconds, checks));
    else
      routes.push({
        route,
        samples: stats.count,
        checks,
        verdict: checks.length ? checks[0]!.verdict : 'unjudged',
      });
  }
  for (const [route, objective] of objectives) {
    if (byRoute.has(route)) continue;
    // Objectives nobody exercised are only worth a line when the scenario claims them (throughput).
    if (objective.throughput !== undefined && seconds > 0) {
      routes.push({
        route,
        objective: objective.name,
        samples: 0,
        checks: [
          {
            metric: 'throughput',
            observed: 0,
            limit: objective.throughput,
            verdict: 'insufficient',
            note: 'no traffic',
          },
        ],
        verdict: 'insufficient',
      });
    }
  }
  if (unjudgedPhases.length > 0)
    notes.push(
      `phase budgets not judged: the source has no Server-Timing (a k6 or autocannon summary carries none): ${unjudgedPhases.join('; ')}`,
    );
  return {
    verdict: routes.some((r) => r.verdict === 'fail') ? 'fail' : 'pass',
    routes,
    ...(notes.length > 0 ? { notes } : {}),
  };
}

// Failed scenario checks fail the run past the allowance, on every route, with or without an objective.
function judgeChecks(stats: RouteFigures, allowed: number): CheckResult[] {
  const observed = stats.failedCheckShare;
  if (observed === 0) return [];
  return [{ metric: 'checks', observed, limit: allowed, verdict: observed <= allowed ? 'pass' : 'fail' }];
}

function judgeRoute(
  route: string,
  stats: RouteFigures,
  objective: Objective,
  seconds: number,
  checks: CheckResult[],
): RouteVerdict {
  for (const [name, limit] of Object.entries(objective.latency) as [Percentile, number][]) {
    const p = percentileValue[name];
    const observed = stats.percentileMs(p);
    const needed = minimumSamples(p);
    if (observed === undefined) {
      checks.push({
        metric: name,
        observed: Number.NaN,
        limit,
        verdict: 'insufficient',
        note: 'not in the source',
      });
      continue;
    }
    checks.push(
      stats.admitted < needed
        ? {
            metric: name,
            observed,
            limit,
            verdict: 'insufficient',
            note: `${stats.admitted} admitted samples, ${needed} needed`,
          }
        : { metric: name, observed, limit, verdict: observed <= limit ? 'pass' : 'fail' },
    );
  }
  if (objective.errors) {
    const { value: limit, statuses } = objective.errors;
    const observed = stats.share(statuses);
    checks.push({
      metric: 'errors',
      observed,
      limit,
      verdict: stats.count === 0 ? 'insufficient' : observed <= limit ? 'pass' : 'fail',
      note: `counts ${statuses.join(', ')} and requests with no answer`,
    });
  }
  if (objective.availability) {
    const observed = 1 - stats.share(['5xx']);
    const limit = objective.availability.value;
    checks.push({
      metric: 'availability',
      observed,
      limit,
      verdict: stats.count === 0 ? 'insufficient' : observed >= limit ? 'pass' : 'fail',
    });
  }
  if (objective.phases) checks.push(...judgePhases(stats, objective.phases));
  if (objective.throughput !== undefined && seconds > 0) {
    const observed = stats.count / seconds;
    checks.push({
      metric: 'throughput',
      observed,
      limit: objective.throughput,
      verdict: observed >= objective.throughput ? 'pass' : 'fail',
    });
  }
  const verdict: Verdict = checks.some((c) => c.verdict === 'fail')
    ? 'fail'
    : checks.some((c) => c.verdict === 'insufficient')
      ? 'insufficient'
      : 'pass';
  return { route, objective: objective.name, samples: stats.count, checks, verdict };
}

/**
 * Each phase's p95, over the admitted answers in which it ran, against its budget. A route whose answers
 * carried no `Server-Timing` at all fails each budget (insufficient data: nobody measured it); a phase that
 * ran too rarely to judge is insufficient, as a percentile with too few samples is.
 */
function judgePhases(stats: RouteFigures, budgets: Readonly<Record<string, number>>): CheckResult[] {
  const checks: CheckResult[] = [];
  const { timed } = stats;
  if (timed === undefined || !stats.phaseCount || !stats.phasePercentileMs) return checks;
  const needed = minimumSamples(95);
  // Server-Timing on some answers only (for admins, say): the phases are judged on those, and the row says so.
  const timedOf = `${timed} timed answers${timed < stats.admitted ? ` (of ${stats.admitted} admitted)` : ''}`;
  for (const [phase, limit] of Object.entries(budgets)) {
    const metric = phaseMetric(phase);
    const samples = stats.phaseCount(phase);
    const observed = samples === 0 ? Number.NaN : stats.phasePercentileMs(phase, 95);
    const unjudged = (verdict: Verdict, note: string) => ({ metric, phase, observed, limit, verdict, note });
    if (stats.admitted === 0) checks.push(unjudged('insufficient', 'no admitted answers'));
    else if (timed === 0)
      checks.push(
        unjudged('fail', 'insufficient data: no answer carried Server-Timing; enable it on the server'),
      );
    else if (samples === 0) checks.push(unjudged('insufficient', `ran in none of ${timedOf}`));
    else if (samples < needed)
      checks.push(unjudged('insufficient', `ran in ${samples} of ${timedOf}, ${needed} needed`));
    else
      checks.push({
        metric,
        phase,
        observed,
        limit,
        verdict: observed <= limit ? 'pass' : 'fail',
        ...(samples < stats.admitted ? { note: `ran in ${samples} of ${timedOf}` } : {}),
      });
  }
  return checks;
}

/**
 * An early-abort rule from the spec: stop when a route's error share is over its budget (after 100 samples)
 * or its p95 is over twice its budget (after 200 samples): the run can only end in a breach, so stop paying.
 *
 * @example
 * runScenario(scenario, { abortWhen: breachDetector(spec) });
 */
export function breachDetector(spec: Spec): (cells: readonly RouteStats[]) => string | undefined {
  const objectives = new Map(spec.objectives.map((o) => [`${o.method} ${o.route}`, o]));
  return (cells) => {
    const byRoute = new Map<string, RouteStats>();
    for (const cell of cells) {
      const merged = byRoute.get(cell.route) ?? new RouteStats('all', cell.route);
      byRoute.set(cell.route, merged);
      merged.merge(cell);
    }
    for (const [route, stats] of byRoute) {
      const objective = objectives.get(route);
      if (!objective) continue;
      const errors = objective.errors ? stats.share(objective.errors.statuses) : 0;
      if (objective.errors && stats.count >= 100 && errors > objective.errors.value) {
        return `${route}: error share ${(errors * 100).toFixed(2)}% over ${objective.errors.decimal}`;
      }
      const p95 = objective.latency.p95;
      if (p95 !== undefined && stats.admitted >= minimumSamples(95) && stats.percentileMs(95) > 2 * p95) {
        return `${route}: p95 ${stats.percentileMs(95).toFixed(1)} ms over twice its budget of ${p95} ms`;
      }
    }
    return undefined;
  };
}
