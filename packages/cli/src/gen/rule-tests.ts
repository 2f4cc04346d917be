// `promtool test rules` files for the rules of rules.ts: per objective, every burn-rate alert fires when its SLI is
// wholly spent (every answer an error; every answer over every budget) and none fires while the objective is met.

import type { Objective, Spec } from '@headroom/core/slo';
import { type BurnAlert, leOf, objectiveSelector } from './rules.ts';

const minutes = 60;
const evalTime = `${minutes}m`;

interface Series {
  series: string;
  values: string;
}

/** `perMinute` more every minute, for the test's hour. */
const growing = (perMinute: number) => `0+${perMinute}x${minutes}`;

function requests(objective: Objective, ok: number, failed: number): Series[] {
  return [
    { series: `http_requests_total${objectiveSelector(objective, ',code="200"')}`, values: growing(ok) },
    { series: `http_requests_total${objectiveSelector(objective, ',code="500"')}`, values: growing(failed) },
  ];
}

function durations(objective: Objective, count: number, withinEveryBudget: number): Series[] {
  return [
    { series: `http_request_duration_seconds_count${objectiveSelector(objective)}`, values: growing(count) },
    ...Object.values(objective.latency).map((ms) => ({
      series: `http_request_duration_seconds_bucket${objectiveSelector(objective, `,le="${leOf(ms)}"`)}`,
      values: growing(withinEveryBudget),
    })),
  ];
}

function expected(alerts: BurnAlert[], spec: Pick<Spec, 'service'>, objective: Objective) {
  return alerts.map((a) => ({
    exp_labels: {
      service: spec.service,
      objective: objective.name,
      ...(a.percentile ? { percentile: a.percentile } : {}),
      ...a.rule.labels,
    },
    exp_annotations: a.rule.annotations,
  }));
}

/**
 * The promtool test document of one objective, whose rules are in `ruleFile` (relative to the test file).
 *
 * @example
 * const doc = ruleTests(spec, objective, alerts, '../rules/casebook-slo-login.rules.yml');
 */
export function ruleTests(
  spec: Pick<Spec, 'service'>,
  objective: Objective,
  alerts: BurnAlert[],
  ruleFile: string,
): object {
  const errorAlerts = alerts.filter((a) => a.sli === 'errors');
  const latencyAlerts = alerts.filter((a) => a.sli === 'latency');
  const names = [...new Set(alerts.map((a) => a.rule.alert))];
  const tests: object[] = [
    {
      name: `${objective.name}: met (no errors, every answer within every budget): no alert`,
      interval: '1m',
      input_series: [...requests(objective, 60, 0), ...durations(objective, 60, 60)],
      alert_rule_test: names.map((alertname) => ({ eval_time: evalTime, alertname, exp_alerts: [] })),
    },
  ];
  if (errorAlerts.length > 0) {
    tests.push({
      name: `${objective.name}: every answer an error for an hour: every error-budget alert fires`,
      interval: '1m',
      input_series: [...requests(objective, 0, 60), ...durations(objective, 60, 60)],
      alert_rule_test: [
        {
          eval_time: evalTime,
          alertname: 'HeadroomErrorBudgetBurn',
          exp_alerts: expected(errorAlerts, spec, objective),
        },
        ...(latencyAlerts.length > 0
          ? [{ eval_time: evalTime, alertname: 'HeadroomLatencyBudgetBurn', exp_alerts: [] }]
          : []),
      ],
    });
  }
  if (latencyAlerts.length > 0) {
    tests.push({
      name: `${objective.name}: every answer over every budget for an hour: every latency alert fires`,
      interval: '1m',
      input_series: [...requests(objective, 60, 0), ...durations(objective, 60, 0)],
      alert_rule_test: [
        {
          eval_time: evalTime,
          alertname: 'HeadroomLatencyBudgetBurn',
          exp_alerts: expected(latencyAlerts, spec, objective),
        },
        ...(errorAlerts.length > 0
          ? [{ eval_time: evalTime, alertname: 'HeadroomErrorBudgetBurn', exp_alerts: [] }]
          : []),
      ],
    });
  }
  return { rule_files: [ruleFile], evaluation_interval: '1m', tests };
}
