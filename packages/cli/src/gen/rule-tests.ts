// `promtool test rules` files for the rules of rules.ts. Per objective: nothing fires while it is met; and around
// each alert's lowest threshold, a steady hour at 0.9× of it leaves that alert silent and 1.1× fires it (with
// every other alert whose threshold is passed too), so a threshold written wrong fails the test.

import type { Objective, RumMetric, Spec } from '@headroom/core/slo';
import { type BurnAlert, leOf, objectiveSelector, rumLe, type rumRules, rumSeries } from './rules.ts';

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

/**
 * An hour of `perMinute` answers a minute: `errorRatio` of them 500s, `overRatio` of them over every latency budget,
 * `phaseRatio` of them over every phase budget.
 */
function traffic(objective: Objective, errorRatio: number, overRatio: number, phaseRatio: number): Series[] {
  const failed = Math.round(errorRatio * perMinute);
  const over = Math.round(overRatio * perMinute);
  const phaseOver = Math.round(phaseRatio * perMinute);
  return [
    ...Object.entries(objective.phases ?? {}).flatMap(([phase, ms]) => [
      {
        series: `headroom_phase_duration_seconds_count${objectiveSelector(objective, `,phase="${phase}"`)}`,
        values: growing(perMinute),
      },
      {
        series: `headroom_phase_duration_seconds_bucket${objectiveSelector(objective, `,phase="${phase}",le="${leOf(ms)}"`)}`,
        values: growing(perMinute - phaseOver),
      },
    ]),
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
      ...(a.phase ? { phase: a.phase } : {}),
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
  const ratioOf = (a: BurnAlert, errorRatio: number, overRatio: number, phaseRatio: number) =>
    a.sli === 'errors' ? errorRatio : a.sli === 'phase' ? phaseRatio : overRatio;
  const scenario = (name: string, errorRatio: number, overRatio: number, phaseRatio = 0) => ({
    name: `${objective.name}: ${name}`,
    interval: '1m',
    input_series: traffic(objective, errorRatio, overRatio, phaseRatio),
    alert_rule_test: names.map((alertname) => ({
      eval_time: evalTime,
      alertname,
      exp_alerts: expected(
        alerts.filter(
          (a) => a.rule.alert === alertname && lowest(a) < ratioOf(a, errorRatio, overRatio, phaseRatio),
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
      const what = {
        errors: 'errors',
        latency: 'answers over every budget',
        phase: 'phases over their budget',
      }[a.sli];
      const name = `${what} at ${factor}× the threshold ${t} (${verb})`;
      tests.push(
        a.sli === 'errors'
          ? scenario(name, ratio, 0)
          : a.sli === 'phase'
            ? scenario(name, 0, 0, ratio)
            : scenario(name, 0, ratio),
      );
    }
  }
  return { rule_files: [ruleFile], evaluation_interval: '1m', tests };
}

/**
 * The promtool test document of the RUM rules (`ruleFile`): nothing fires while every page view is within budget,
 * nothing at 0.9× of each journey's threshold (the share allowed over budget), every alert at 1.1×.
 *
 * @example
 * const doc = rumTests(spec, rumRules(spec, 'runbooks/').alerts, '../rules/casebook-rum.rules.yml');
 */
export function rumTests(
  spec: Pick<Spec, 'service' | 'rum'>,
  alerts: ReturnType<typeof rumRules>['alerts'],
  ruleFile: string,
): object {
  // Page views over budget, as a share of the threshold of each alert's journey (0: none over).
  const views = (factor: number): Series[] =>
    alerts.flatMap((a) => {
      const budget = spec.rum.find((r) => r.journey === a.journey)!;
      const { metric, selector } = rumSeries(a.journey, a.metric);
      const over = Math.round(Number(a.threshold) * factor * perMinute);
      return [
        { series: `${metric}_count{${selector}}`, values: growing(perMinute) },
        {
          series: `${metric}_bucket{${selector},le="${rumLe(a.metric, budget.budgets[a.metric as RumMetric]!)}"}`,
          values: growing(perMinute - over),
        },
      ];
    });
  const scenario = (name: string, factor: number, firing: boolean) => ({
    name,
    interval: '1m',
    input_series: views(factor),
    alert_rule_test: [
      {
        eval_time: evalTime,
        alertname: 'HeadroomRumOverBudget',
        exp_alerts: firing
          ? alerts.map((a) => ({
              exp_labels: { service: spec.service, ...a.rule.labels },
              exp_annotations: a.rule.annotations,
            }))
          : [],
      },
    ],
  });
  return {
    rule_files: [ruleFile],
    evaluation_interval: '1m',
    tests: [
      scenario('every page view within budget: no alert', 0, false),
      scenario('page views over budget at 0.9× each threshold: no alert', 0.9, false),
      scenario('page views over budget at 1.1× each threshold: every alert', 1.1, true),
    ],
  };
}
