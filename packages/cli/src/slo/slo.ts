// `headroom slo --prometheus <url> <spec>`: each objective of headroom.yaml judged on what Prometheus saw of the
// running service over a window: each latency percentile against its budget, the error ratio against the error
// budget, availability against its floor. The same PromQL as the degrader's fleet-wide source (sloQueries).

import { type Objective, type Percentile, prometheusSource, type Spec } from '@headroom/core/slo';

export interface SloCheck {
  objective: string;
  route: string;
  /** `p95`, `errors`, `availability`. */
  metric: string;
  /** Observed: ms for a percentile, a ratio otherwise; undefined when the window holds no request. */
  observed: number | undefined;
  limit: number;
  verdict: 'pass' | 'fail' | 'no traffic';
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
  const checks: SloCheck[] = [];
  for (const objective of spec.objectives)
    checks.push(...(await judgeObjective(source, objective, options.windowMs)));
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

const show = (c: SloCheck, n: number | undefined) =>
  n === undefined ? '–' : /^p/.test(c.metric) ? `${n.toFixed(1)} ms` : `${(n * 100).toFixed(3)}%`;

/** The report as a Markdown table, one row per check, then the verdict. */
export function sloTable(report: SloReport): string {
  const rows = report.checks.map(
    (c) =>
      `| ${c.objective} | ${c.route} | ${c.metric} | ${show(c, c.observed)} | ${c.metric === 'availability' ? '≥' : '≤'} ${show(c, c.limit)} | ${c.verdict} |`,
  );
  return [
    `| objective | route | metric | observed (${report.window}) | budget | verdict |`,
    '| --- | --- | --- | ---: | ---: | --- |',
    ...rows,
    '',
    `slo: ${report.verdict === 'fail' ? 'FAIL' : 'pass'} (${report.checks.filter((c) => c.verdict === 'fail').length} breached, ${report.checks.filter((c) => c.verdict === 'no traffic').length} without traffic)`,
    '',
  ].join('\n');
}
