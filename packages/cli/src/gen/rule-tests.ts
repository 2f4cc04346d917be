// `promtool test rules` files for the rules of rules.ts. Per objective: nothing fires while it is met; and around
// each alert's lowest threshold, a steady hour at 0.9× of it leaves that alert silent and 1.1× fires it (with
// every other alert whose threshold is passed too), so a threshold written wrong fails the test.

import type { Objective, Spec } from '@headroom/core/slo';
import { type BurnAlert, leOf, objectiveSelector } from './rules.ts';

const minutes = 60;
const evalTime = `${minutes}m`;
/** Requests per minute in every scenario: enough that 0.9× of the smallest threshold is a whole number. */
const perMinute = 1_000_000;

interface Series {
  series: string;
  values: string;
}

/** `n` more every minute, for the test's hour. */
const growing = (n: number) => `0+${n}x${minutes}`;

/** An hour of `perMinute` answers a minute: `errorRatio` of them 500s, `overRatio` of them over every budget. */
function traffic(objective: Objective, errorRatio: number, overRatio: number): Series[] {
  const failed = Math.round(errorRatio * perMinute);
  const over = Math.round(overRatio * perMinute);
  return [
    {
      series: `http_requests_total${objectiveSelector(objective, ',code="200"')}`,
      values: growing(perMinute - failed),
    },
    { series: `http_requests_total${objectiveSelector(objective, ',code="500"')}`, values: growing(failed) },
    {
      series: `http_request_duration_seconds_count${objectiveSelector(objective)}`,
      values: growing(perMinute),
    },
    ...Object.values(objective.latency).map((ms) => ({
      series: `http_request_duration_seconds_bucket${objectiveSelector(objective, `,le="${leOf(ms)}"`)}`,
      values: growing(perMinute - over),
    })),
  ];
}

const lowest = (a: BurnAlert) => Math.min(...a.thresholds.map(Number));

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
  const names = [...new Set(alerts.map((a) => a.rule.alert))];
  // Every alert of a name whose lowest threshold the ratio passes fires; the others stay silent.
  const scenario = (name: string, errorRatio: number, overRatio: number) => ({
    name: `${objective.name}: ${name}`,
    interval: '1m',
    input_series: traffic(objective, errorRatio, overRatio),
    alert_rule_test: names.map((alertname) => ({
      eval_time: evalTime,
      alertname,
      exp_alerts: expected(
        alerts.filter(
          (a) => a.rule.alert === alertname && lowest(a) < (a.sli === 'errors' ? errorRatio : overRatio),
        ),
        spec,
        objective,
      ),
    })),
  });
  const tests = [scenario('met (no errors, every answer within every budget): no alert', 0, 0)];
  const edges = new Set<string>();
  for (const a of alerts) {
    const t = lowest(a);
    const key = `${a.sli} ${t}`;
    if (edges.has(key)) continue;
    edges.add(key);
    for (const [factor, verb] of [
      [0.9, 'under'],
      [1.1, 'over'],
    ] as const) {
      const ratio = t * factor;
      const what = a.sli === 'errors' ? 'errors' : 'answers over every budget';
      tests.push(
        a.sli === 'errors'
          ? scenario(`${what} at ${factor}× the threshold ${t} (${verb})`, ratio, 0)
          : scenario(`${what} at ${factor}× the threshold ${t} (${verb})`, 0, ratio),
      );
    }
  }
  return { rule_files: [ruleFile], evaluation_interval: '1m', tests };
}
