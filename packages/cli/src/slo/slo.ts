// `headroom slo --prometheus <url> <spec>`: each objective of headroom.yaml judged on what Prometheus saw of the
// running service over a window: each latency percentile against its budget, the error ratio against the error
// budget, availability against its floor, and each phase budget (the share of the requests that ran the phase
// within its budget, at least 95%). The same PromQL as the degrader's fleet-wide source (sloQueries), and
// phaseQueries for phases.

import {
  type Objective,
  type Percentile,
  prometheusQuery,
  prometheusSource,
  type Spec,
} from '@headroom/core/slo';
import { phaseMetric } from '../gate/judge.ts';
import { phaseHistogram, phaseQueries, phaseTarget } from './phase-queries.ts';

export interface SloCheck {
  objective: string;
  route: string;
  /** `p95`, `errors`, `availability`, or a phase budget's `phase db p95`. */
  metric: string;
  /**
   * Observed: ms for a percentile, a ratio otherwise (for a phase: the share of its requests within budget);
   * undefined when the window holds no request.
   */
  observed: number | undefined;
  /** The budget: ms for a percentile or a phase, a ratio otherwise. */
  limit: number;
  /** `not measured`: the route has phase budgets but Prometheus has no phase timings of it. */
  verdict: 'pass' | 'fail' | 'no traffic' | 'not measured';
  /** The phase of a phase budget's check. */
  phase?: string;
  /** Why a phase budget was not measured. */
  note?: string;
}

export interface SloReport {
  window: string;
  checks: SloCheck[];
  verdict: 'pass' | 'fail';
}

/**
 * Reads every objective of `spec` from Prometheus over `windowMs` and judges it. Rejects when Prometheus cannot
 * answer (the command's exit 2).
 *
 * @example
 * const report = await judgeFromPrometheus(spec, { url: 'http://127.0.0.1:9090', windowMs: 300_000 });
 */
export async function judgeFromPrometheus(
  spec: Spec,
  options: { url: string; windowMs: number; selector?: string; timeout?: number },
): Promise<SloReport> {
  const source = prometheusSource({
    url: options.url,
    ...(options.selector ? { selector: options.selector } : {}),
    timeout: options.timeout ?? 10_000,
  });
  const query = prometheusQuery({ url: options.url, timeout: options.timeout ?? 10_000 }, 'headroom slo');
  const checks: SloCheck[] = [];
  for (const objective of spec.objectives) {
    const judged = await judgeObjective(source, objective, options.windowMs);
    checks.push(...judged);
    if (objective.phases) {
      const idle = judged.every((c) => c.verdict === 'no traffic');
      checks.push(...(await judgePhases(query, objective, options.windowMs, options.selector ?? '', idle)));
    }
  }
  return {
    window: `${Math.round(options.windowMs / 1000)}s`,
    checks,
    verdict: checks.some((c) => c.verdict === 'fail') ? 'fail' : 'pass',
  };
}

async function judgeObjective(
  source: ReturnType<typeof prometheusSource>,
  objective: Objective,
  windowMs: number,
): Promise<SloCheck[]> {
  const percentiles = Object.keys(objective.latency) as Percentile[];
  const reading = await source.read({
    method: objective.method,
    route: objective.route,
    window: windowMs,
    percentiles,
    statuses: objective.errors?.statuses ?? ['5xx'],
  });
  const route = `${objective.method} ${objective.route}`;
  const idle = reading.total === 0;
  const check = (
    metric: string,
    observed: number | undefined,
    limit: number,
    ok: (n: number) => boolean,
  ) => ({
    objective: objective.name,
    route,
    metric,
    observed: idle ? undefined : observed,
    limit,
    verdict:
      idle || observed === undefined
        ? ('no traffic' as const)
        : ok(observed)
          ? ('pass' as const)
          : ('fail' as const),
  });
  const checks: SloCheck[] = percentiles.map((p) =>
    check(p, reading.latency[p], objective.latency[p]!, (ms) => ms <= objective.latency[p]!),
  );
  if (objective.errors) {
    const budget = objective.errors.value;
    checks.push(check('errors', reading.errorRatio, budget, (ratio) => ratio <= budget));
  }
  if (objective.availability) {
    const floor = objective.availability.value;
    // Availability counts 5xx as down, whatever the error budget counts.
    const fivexx = objective.errors?.statuses
      ? await source.read({
          method: objective.method,
          route: objective.route,
          window: windowMs,
          percentiles: [],
          statuses: ['5xx'],
        })
      : reading;
    checks.push(check('availability', 1 - fivexx.errorRatio, floor, (up) => up >= floor));
  }
  return checks;
}

/**
 * Each phase budget of `objective`: the share of the window's requests that ran the phase and were within its
 * budget, against 95%. A route with traffic but no phase series at all is `not measured` (the service exports
 * no phase timings for it), and so is a budget that is not a bucket edge (the share cannot be read exactly); a
 * phase that did not run in the window has no traffic.
 */
async function judgePhases(
  query: (promql: string) => Promise<number | undefined>,
  objective: Objective,
  windowMs: number,
  selector: string,
  idle: boolean,
): Promise<SloCheck[]> {
  const route = `${objective.method} ${objective.route}`;
  const budgets = Object.entries(objective.phases ?? {});
  const promql = budgets.map(([phase, budgetMs]) =>
    phaseQueries(
      { method: objective.method, route: objective.route, phase, budgetMs, window: windowMs },
      selector,
    ),
  );
  const exported = promql.length > 0 ? await query(promql[0]!.exported) : undefined;
  const readings = await Promise.all(
    promql.map(async (q) => (exported ? await Promise.all([query(q.total), query(q.within)]) : [])),
  );
  return budgets.map(([phase, limit], i): SloCheck => {
    const [total, within] = readings[i]!;
    const base = { objective: objective.name, route, metric: phaseMetric(phase), phase, limit };
    if (!exported && idle) return { ...base, observed: undefined, verdict: 'no traffic' };
    if (!exported)
      return {
        ...base,
        observed: undefined,
        verdict: 'not measured',
        note: `Prometheus has no ${phaseHistogram} of it (a service measures the phases of the routes its own spec budgets)`,
      };
    if (!total) return { ...base, observed: undefined, verdict: 'no traffic' };
    if (within === undefined)
      return {
        ...base,
        observed: undefined,
        verdict: 'not measured',
        note: `${base.metric}: ${limit} ms is not a bucket edge of ${phaseHistogram} (the service runs with other phase budgets)`,
      };
    const share = Math.min(1, within / total);
    return { ...base, observed: share, verdict: share >= phaseTarget ? 'pass' : 'fail' };
  });
}

const percent = (n: number) => `${(n * 100).toFixed(3)}%`;

function observedText(c: SloCheck): string {
  if (c.observed === undefined) return '–';
  if (c.phase !== undefined) return `${percent(c.observed)} within ${c.limit} ms`;
  return /^p/.test(c.metric) ? `${c.observed.toFixed(1)} ms` : percent(c.observed);
}

/** A budget in ms to one decimal, unless that would change it (a 1 µs budget is 0.001 ms, not 0.0 ms). */
const budgetMs = (ms: number) =>
  Number(ms.toFixed(1)) === ms ? ms.toFixed(1) : String(Number(ms.toPrecision(12)));

function budgetText(c: SloCheck): string {
  if (c.phase !== undefined) return `≥ ${percent(phaseTarget)} within ${c.limit} ms`;
  const limit = /^p/.test(c.metric) ? `${budgetMs(c.limit)} ms` : percent(c.limit);
  return `${c.metric === 'availability' ? '≥' : '≤'} ${limit}`;
}

/** The report as a Markdown table, one row per check, then the verdict (and which phase budgets went unread). */
export function sloTable(report: SloReport): string {
  const rows = report.checks.map(
    (c) =>
      `| ${c.objective} | ${c.route} | ${c.metric} | ${observedText(c)} | ${budgetText(c)} | ${c.verdict} |`,
  );
  const count = (verdict: SloCheck['verdict']) => report.checks.filter((c) => c.verdict === verdict).length;
  const unmeasured = [
    ...new Set(
      report.checks
        .filter((c) => c.verdict === 'not measured')
        .map((c) => `phase budgets not judged: ${c.route}: ${c.note}`),
    ),
  ];
  return [
    `| objective | route | metric | observed (${report.window}) | budget | verdict |`,
    '| --- | --- | --- | ---: | ---: | --- |',
    ...rows,
    '',
    `slo: ${report.verdict === 'fail' ? 'FAIL' : 'pass'} (${count('fail')} breached, ${count('no traffic')} without traffic${unmeasured.length > 0 ? `, ${count('not measured')} phase budget${count('not measured') === 1 ? '' : 's'} not measured` : ''})`,
    ...(unmeasured.length > 0 ? ['', ...unmeasured] : []),
    '',
  ].join('\n');
}
