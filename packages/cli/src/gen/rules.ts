// Prometheus rules from headroom.yaml alone: per objective, recording rules of its SLIs over the windows the
// alerts read (error ratio; per latency budget, the share of requests over it, exact because every budget is a
// bucket edge of http_request_duration_seconds: `durationBuckets` in @headroom/fastify), multi-window,
// multi-burn-rate alerts on each budget, and the operational alerts of the seeds' playbooks.

import type { Objective, Percentile, RumMetric, Spec } from '@headroom/core/slo';
import { escapeLabel, quantileOf } from '@headroom/core/slo';
import { decimalOf, divide, minus, times } from './decimal.ts';

/** The windows the recording rules cover: what the burn-rate alerts below read. */
export const sliWindows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
type Window = (typeof sliWindows)[number];
const hours: Record<Window, number> = {
  '5m': 1 / 12,
  '30m': 0.5,
  '1h': 1,
  '2h': 2,
  '6h': 6,
  '1d': 24,
  '3d': 72,
};

/**
 * The burn-rate conditions (the SRE workbook's, for a 30-day window: page at 14.4× over 1 h and 5 min, or 6× over
 * 6 h and 30 min; ticket at 3× over 1 d and 2 h, or 1× over 3 d and 6 h). Each is the share of the whole budget
 * spent in its long window, so the factor scales with the spec's window: share × window ÷ long window.
 */
export const burnConditions = [
  { severity: 'page', long: '1h', short: '5m', share: '0.02' },
  { severity: 'page', long: '6h', short: '30m', share: '0.05' },
  { severity: 'ticket', long: '1d', short: '2h', share: '0.1' },
  { severity: 'ticket', long: '3d', short: '6h', share: '0.1' },
] as const;
export type Severity = (typeof burnConditions)[number]['severity'];
const holdFor: Record<Severity, string> = { page: '2m', ticket: '15m' };

export interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}
export interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: (RecordingRule | AlertingRule)[];
}

/** One alert of an objective as generated: which SLI, the threshold of each condition kept. */
export interface BurnAlert {
  rule: AlertingRule;
  sli: 'errors' | 'latency' | 'phase';
  percentile?: Percentile;
  /** The phase, for a phase budget's alert. */
  phase?: string;
  severity: Severity;
  /** Each condition's threshold on the ratio (exact decimals); a ratio over one of them fires the alert. */
  thresholds: string[];
}

/** `job`-free selector of an objective's series. */
export function objectiveSelector(objective: Pick<Objective, 'method' | 'route'>, extra = ''): string {
  return `{method="${escapeLabel(objective.method)}",route="${escapeLabel(objective.route)}"${extra}}`;
}

/** The error budget of an objective: its `errors`, else 1 − its availability; undefined when it sets neither. */
export function errorBudget(objective: Objective): { ratio: string; statuses: string } | undefined {
  const statuses = (objective.errors?.statuses ?? ['5xx'])
    .map((s) => String(s).replace(/x/gi, '.'))
    .join('|');
  if (objective.errors) return { ratio: decimalOf(objective.errors.decimal), statuses };
  if (objective.availability) return { ratio: minus('1', objective.availability.decimal), statuses };
  return undefined;
}

/** `le` as the exposition prints it for a budget in ms. */
export const leOf = (ms: number): string => decimalOf(ms / 1000);

const errorsRecord = (w: Window) => `headroom:slo_errors:ratio_rate${w}`;
const latencyRecord = (w: Window) => `headroom:slo_latency_over_budget:ratio_rate${w}`;
const phaseRecord = (w: Window) => `headroom:slo_phase_over_budget:ratio_rate${w}`;

/**
 * A phase budget is a p95 (`phases: { db: 20ms }`): more than 5% of the requests that ran the phase over it, for an
 * hour and the last 5 minutes, is a ticket. Phases have no burn rate: their budget is a part of the route's.
 */
export const phaseThreshold = '0.05';
const phaseWindows = ['5m', '1h'] as const;

/** Burn factors for a spec window of `windowMs`: conditions whose long window exceeds the spec's are left out. */
export function burnFactors(windowMs: number) {
  const windowHours = windowMs / 3_600_000;
  return burnConditions
    .filter((c) => hours[c.long] <= windowHours)
    .map((c) => ({ ...c, factor: divide(times(c.share, decimalOf(windowHours)), decimalOf(hours[c.long])) }));
}

/** The rules of one objective: its SLIs recorded over every window, and its burn-rate alerts. */
export function objectiveRules(
  spec: Pick<Spec, 'service' | 'windowMs'>,
  objective: Objective,
  runbookBase: string,
): { group: RuleGroup; alerts: BurnAlert[] } {
  const labels = { service: spec.service, objective: objective.name };
  const all = objectiveSelector(objective);
  const rules: (RecordingRule | AlertingRule)[] = [];
  const budget = errorBudget(objective);
  const percentiles = Object.entries(objective.latency) as [Percentile, number][];
  for (const w of sliWindows) {
    if (budget) {
      const failed = objectiveSelector(objective, `,code=~"${budget.statuses}"`);
      rules.push({
        record: errorsRecord(w),
        expr: `(sum(rate(http_requests_total${failed}[${w}])) or vector(0)) / sum(rate(http_requests_total${all}[${w}]))`,
        labels,
      });
    }
    for (const [percentile, ms] of percentiles) {
      const within = objectiveSelector(objective, `,le="${leOf(ms)}"`);
      rules.push({
        record: latencyRecord(w),
        expr: `1 - sum(rate(http_request_duration_seconds_bucket${within}[${w}])) / sum(rate(http_request_duration_seconds_count${all}[${w}]))`,
        labels: { ...labels, percentile },
      });
    }
  }
  const alerts: BurnAlert[] = [];
  const factors = burnFactors(spec.windowMs);
  const window = `${Math.round(spec.windowMs / 86_400_000)}d`;
  const burn = (
    sli: 'errors' | 'latency',
    allowed: string,
    record: (w: Window) => string,
    match: string,
    what: string,
    percentile?: Percentile,
  ) => {
    for (const severity of ['page', 'ticket'] as const) {
      const kept = factors
        .filter((c) => c.severity === severity)
        .map((c) => ({ ...c, threshold: times(c.factor, allowed) }))
        // A ratio cannot pass 1: a condition at or above it could never fire.
        .filter((c) => Number(c.threshold) < 1);
      if (kept.length === 0) continue;
      const expr = kept
        .map(
          (c) =>
            `(${record(c.long)}${match} > ${c.threshold} and ${record(c.short)}${match} > ${c.threshold})`,
        )
        .join(' or ');
      const rule: AlertingRule = {
        alert: sli === 'errors' ? 'HeadroomErrorBudgetBurn' : 'HeadroomLatencyBudgetBurn',
        expr,
        for: holdFor[severity],
        labels: { severity, sli, ...(percentile ? { percentile } : {}) },
        annotations: {
          summary: `${objective.method} ${objective.route} (${objective.name}) is spending its ${what} budget ${severity === 'page' ? 'fast' : 'steadily'}: at this rate it is gone before the ${window} window ends`,
          runbook_url: `${runbookBase}${sli === 'errors' ? 'high-error-rate' : 'slow-route'}.md`,
        },
      };
      rules.push(rule);
      alerts.push({
        rule,
        sli,
        ...(percentile ? { percentile } : {}),
        severity,
        thresholds: kept.map((c) => c.threshold),
      });
    }
  };
  for (const [phase, ms] of Object.entries(objective.phases ?? {})) {
    const of = objectiveSelector(objective, `,phase="${escapeLabel(phase)}"`);
    const within = objectiveSelector(objective, `,phase="${escapeLabel(phase)}",le="${leOf(ms)}"`);
    const phaseLabels = { ...labels, phase };
    for (const w of phaseWindows) {
      rules.push({
        record: phaseRecord(w),
        expr: `1 - sum(rate(headroom_phase_duration_seconds_bucket${within}[${w}])) / sum(rate(headroom_phase_duration_seconds_count${of}[${w}]))`,
        labels: phaseLabels,
      });
    }
    const match = `{objective="${objective.name}",phase="${escapeLabel(phase)}"}`;
    const rule: AlertingRule = {
      alert: 'HeadroomPhaseOverBudget',
      expr: `${phaseRecord('1h')}${match} > ${phaseThreshold} and ${phaseRecord('5m')}${match} > ${phaseThreshold}`,
      for: holdFor.ticket,
      labels: { severity: 'ticket', sli: 'phase', phase },
      annotations: {
        summary: `${objective.method} ${objective.route} (${objective.name}): its ${phase} phase is over its p95 budget of ${ms} ms`,
        runbook_url: `${runbookBase}slow-route.md`,
      },
    };
    rules.push(rule);
    alerts.push({ rule, sli: 'phase', phase, severity: 'ticket', thresholds: [phaseThreshold] });
  }
  const match = `{objective="${objective.name}"}`;
  if (budget) burn('errors', budget.ratio, errorsRecord, match, `error (${budget.ratio})`);
  for (const [percentile, ms] of percentiles) {
    burn(
      'latency',
      minus('1', decimalOf(quantileOf(percentile))),
      latencyRecord,
      `{objective="${objective.name}",percentile="${percentile}"}`,
      `${percentile} ≤ ${ms} ms`,
      percentile,
    );
  }
  return { group: { name: `${spec.service}-slo-${objective.name}`, interval: '30s', rules }, alerts };
}

/** The metric and label selector of one RUM budget: timings in headroom_rum_seconds, CLS in headroom_rum_cls. */
export function rumSeries(journey: string, metric: RumMetric): { metric: string; selector: string } {
  return metric === 'CLS'
    ? { metric: 'headroom_rum_cls', selector: `journey="${escapeLabel(journey)}"` }
    : { metric: 'headroom_rum_seconds', selector: `journey="${escapeLabel(journey)}",metric="${metric}"` };
}

/** A RUM budget's `le`: seconds for a timing (ms in the spec), CLS as it is. */
export const rumLe = (metric: RumMetric, value: number): string =>
  metric === 'CLS' ? decimalOf(value) : leOf(value);

/**
 * The real-user budgets (`rum:`): per journey and metric, the share of page views over budget in the last hour, and
 * a ticket when it passes 1 − target (75% of page views within budget by default: web-vitals' p75) for 30 minutes.
 */
export function rumRules(
  spec: Pick<Spec, 'service' | 'rum'>,
  runbookBase: string,
): {
  group: RuleGroup;
  alerts: { rule: AlertingRule; journey: string; metric: RumMetric; threshold: string }[];
} {
  const rules: (RecordingRule | AlertingRule)[] = [];
  const alerts: { rule: AlertingRule; journey: string; metric: RumMetric; threshold: string }[] = [];
  for (const budget of spec.rum) {
    const threshold = minus('1', budget.target.decimal);
    for (const [metric, value] of Object.entries(budget.budgets) as [RumMetric, number][]) {
      const { metric: name, selector } = rumSeries(budget.journey, metric);
      const labels = { service: spec.service, journey: budget.journey, metric };
      rules.push({
        record: 'headroom:rum_over_budget:ratio_rate1h',
        expr: `1 - sum(rate(${name}_bucket{${selector},le="${rumLe(metric, value)}"}[1h])) / sum(rate(${name}_count{${selector}}[1h]))`,
        labels,
      });
      const limit = metric === 'CLS' ? String(value) : `${value} ms`;
      const rule: AlertingRule = {
        alert: 'HeadroomRumOverBudget',
        expr: `headroom:rum_over_budget:ratio_rate1h{journey="${escapeLabel(budget.journey)}",metric="${metric}"} > ${threshold}`,
        for: '30m',
        labels: { severity: 'ticket', sli: 'rum', journey: budget.journey, metric },
        annotations: {
          summary: `${budget.journey}: more than ${threshold} of page views have ${metric} over ${limit}`,
          runbook_url: `${runbookBase}real-user-experience.md`,
        },
      };
      rules.push(rule);
      alerts.push({ rule, journey: budget.journey, metric, threshold });
    }
  }
  return { group: { name: `${spec.service}-rum`, interval: '1m', rules }, alerts };
}

/** The runbooks `gen` writes and the alerts point to. */
export const runbookNames = [
  'high-error-rate',
  'slow-route',
  'redis-down',
  'webhook-failures',
  'database-degradation',
  'queue-backlog',
  'breaker-open',
  'cache-hit-ratio',
  'real-user-experience',
] as const;

/** The seeds' operational alerts, for any service on @headroom/fastify. */
export function operationalRules(spec: Pick<Spec, 'service'>, runbookBase: string): RuleGroup {
  const alert = (
    name: string,
    expr: string,
    forTime: string,
    severity: Severity,
    summary: string,
    runbook: (typeof runbookNames)[number],
  ): AlertingRule => ({
    alert: name,
    expr,
    for: forTime,
    labels: { severity, service: spec.service },
    annotations: { summary, runbook_url: `${runbookBase}${runbook}.md` },
  });
  const share5xx = `sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))`;
  return {
    name: `${spec.service}-operations`,
    interval: '30s',
    rules: [
      alert(
        'Headroom5xxHigh',
        `${share5xx} > 0.05`,
        '2m',
        'page',
        'over 5% of answers are 5xx',
        'high-error-rate',
      ),
      alert(
        'Headroom5xxElevated',
        `${share5xx} > 0.01`,
        '10m',
        'ticket',
        'over 1% of answers are 5xx',
        'high-error-rate',
      ),
      alert(
        'HeadroomDbPoolSaturated',
        'sum(headroom_db_pool_connections{state="active"}) / sum(headroom_db_pool_connections{state=~"active|idle"}) > 0.9 and sum(headroom_db_pool_connections{state="waiting"}) > 0',
        '5m',
        'ticket',
        'the PostgreSQL pool is over 90% in use with callers waiting for a connection',
        'database-degradation',
      ),
      alert(
        'HeadroomBreakerOpen',
        'max by (breaker) (headroom_breaker_state) == 2',
        '1m',
        'ticket',
        'a circuit breaker is open: a dependency is failing and its callers get the fallback',
        'breaker-open',
      ),
      alert(
        'HeadroomRedisDown',
        'max(headroom_breaker_state{breaker=~"cache:.*:l2"}) == 2',
        '1m',
        'page',
        'the shared cache (Redis) is not answering: instances serve from L1 and local limits',
        'redis-down',
      ),
      alert(
        'HeadroomQueueBacklog',
        'max by (queue) (headroom_jobs_oldest_ready_seconds) > 300',
        '5m',
        'ticket',
        'a job queue has had work waiting for over 5 minutes',
        'queue-backlog',
      ),
      alert(
        'HeadroomDeadLettersGrowing',
        'max by (queue) (delta(headroom_jobs{state="dead"}[15m])) > 0',
        '0m',
        'ticket',
        'jobs are running out of attempts (dead letters are growing)',
        'queue-backlog',
      ),
      alert(
        'HeadroomWebhookFailures',
        'sum(rate(headroom_webhook_attempts_total{result=~"retry|failed|gone"}[10m])) / sum(rate(headroom_webhook_attempts_total[10m])) > 0.2',
        '10m',
        'ticket',
        'over 20% of webhook attempts fail',
        'webhook-failures',
      ),
      alert(
        'HeadroomCacheHitRatioLow',
        'sum by (cache) (rate(headroom_cache_requests_total{tier="l1",result=~"hit|stale"}[10m])) / sum by (cache) (rate(headroom_cache_requests_total{tier="l1"}[10m])) < 0.5',
        '15m',
        'ticket',
        'the cache answers under half of its lookups',
        'cache-hit-ratio',
      ),
    ],
  };
}
