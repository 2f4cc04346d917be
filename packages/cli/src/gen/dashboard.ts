// The Grafana dashboard `headroom gen` writes from headroom.yaml: a row per objective (its SLIs against budget, the
// error budget left over the spec's window, burn rates, the route's RED panels and phases), then cache, breakers,
// rate limits and queues, then a row per real-user journey; deploys are annotations from `headroom_start_time_seconds`.
// Grafana's dashboard JSON model (schemaVersion 39: row, timeseries and stat panels on a 24-column grid), with the
// Prometheus data source as a `${datasource}` variable so the file imports into any Grafana.

import type { Objective, Percentile, RumMetric, Spec } from '@headroom/core/slo';
import { escapeLabel, quantileOf } from '@headroom/core/slo';
import { decimalOf, minus } from './decimal.ts';
import { errorBudget, leOf, objectiveSelector, phaseThreshold, rumLe, rumSeries } from './rules.ts';

/** A panel's query. */
interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
}

/** The parts of a Grafana panel this file writes. */
export interface Panel {
  id: number;
  type: 'row' | 'timeseries' | 'stat';
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: 'prometheus'; uid: string };
  targets?: Target[];
  fieldConfig?: object;
  options?: object;
  collapsed?: boolean;
  panels?: Panel[];
  description?: string;
}

const datasource = { type: 'prometheus', uid: '${datasource}' } as const;
const refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The dashboard of `spec` as a JSON-ready object; the same spec always gives the same object (no ids from time).
 *
 * @example
 * writeFile('casebook.json', JSON.stringify(dashboard(await loadSpec('headroom.yaml')), null, 2));
 */
export function dashboard(spec: Spec): object {
  const panels: Panel[] = [];
  let id = 0;
  let y = 0;
  let x = 0;
  const row = (title: string) => {
    if (x > 0) y += 8;
    x = 0;
    panels.push({
      id: ++id,
      type: 'row',
      title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
  };
  const panel = (
    type: 'timeseries' | 'stat',
    title: string,
    queries: [expr: string, legend: string][],
    fieldConfig: object,
    width = 8,
    description?: string,
  ) => {
    if (x + width > 24) {
      x = 0;
      y += 8;
    }
    panels.push({
      id: ++id,
      type,
      title,
      datasource,
      gridPos: { h: 8, w: width, x, y },
      targets: queries.map(([expr, legendFormat], i) => ({ refId: refIds[i]!, expr, legendFormat })),
      fieldConfig,
      options:
        type === 'stat'
          ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' }
          : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
      ...(description ? { description } : {}),
    });
    x += width;
  };

  for (const objective of spec.objectives) {
    row(`${objective.name}: ${objective.method} ${objective.route}`);
    const match = `objective="${escapeLabel(objective.name)}"`;
    const percentiles = Object.entries(objective.latency) as [Percentile, number][];
    const budget = errorBudget(objective);
    // SLIs: the share of requests within each budget, and without error, against the share each allows.
    panel(
      'timeseries',
      'SLI: share within budget (5m)',
      [
        ...percentiles.map(([p, ms]): [string, string] => [
          `1 - headroom:slo_latency_over_budget:ratio_rate5m{${match},percentile="${p}"}`,
          `${p} ≤ ${ms} ms (objective ${decimalOf(quantileOf(p))})`,
        ]),
        ...(budget
          ? [
              [
                `1 - headroom:slo_errors:ratio_rate5m{${match}}`,
                `without error (objective ${minus('1', budget.ratio)})`,
              ] as [string, string],
            ]
          : []),
      ],
      percentUnit(0.9),
    );
    panel(
      'stat',
      `Error budget left (${windowLabel(spec.windowMs)})`,
      budgetLeft(spec, objective),
      { defaults: { unit: 'percentunit', min: 0, max: 1, thresholds: redBelow(0) }, overrides: [] },
      4,
      'Share of the budget not yet spent over the spec’s window: 1 is untouched, 0 or less is spent.',
    );
    panel(
      'timeseries',
      'Burn rate (1h; 1 spends the budget exactly over the window)',
      [
        ...(budget
          ? [[`headroom:slo_errors:ratio_rate1h{${match}} / ${budget.ratio}`, 'errors'] as [string, string]]
          : []),
        ...percentiles.map(([p]): [string, string] => [
          `headroom:slo_latency_over_budget:ratio_rate1h{${match},percentile="${p}"} / ${minus('1', decimalOf(quantileOf(p)))}`,
          p,
        ]),
      ],
      { defaults: { unit: 'none', min: 0, thresholds: redAbove(1) }, overrides: [] },
      4,
    );
    // RED of the route itself.
    const all = objectiveSelector(objective);
    panel(
      'timeseries',
      'Requests by status',
      [[`sum by (code) (rate(http_requests_total${all}[5m]))`, '{{code}}']],
      { defaults: { unit: 'reqps', min: 0 }, overrides: [] },
    );
    panel(
      'timeseries',
      'Latency (budgets as thresholds)',
      [0.5, 0.95, 0.99].map((q): [string, string] => [
        `histogram_quantile(${q}, sum by (le) (rate(http_request_duration_seconds_bucket${all}[5m])))`,
        `p${q * 100}`,
      ]),
      {
        defaults: {
          unit: 's',
          min: 0,
          thresholds: redAbove(Math.max(...percentiles.map(([, ms]) => ms / 1000), 0)),
          custom: { thresholdsStyle: { mode: 'line' } },
        },
        overrides: [],
      },
    );
    panel(
      'timeseries',
      `Errors (share of answers${budget ? ` with ${budget.statuses.replaceAll('.', 'x')}` : ' with 5xx'})`,
      [
        [
          `(sum(rate(http_requests_total${objectiveSelector(objective, `,code=~"${budget?.statuses ?? '5..'}"`)}[5m])) or vector(0)) / sum(rate(http_requests_total${all}[5m]))`,
          'errors',
        ],
      ],
      {
        defaults: {
          unit: 'percentunit',
          min: 0,
          ...(budget ? { thresholds: redAbove(Number(budget.ratio)) } : {}),
        },
        overrides: [],
      },
    );
    if (objective.phases) {
      const phases = Object.entries(objective.phases);
      panel(
        'timeseries',
        `Phases p95 (budgets ${phases.map(([phase, ms]) => `${phase} ${ms} ms`).join(', ')})`,
        [
          [
            `histogram_quantile(0.95, sum by (le, phase) (rate(headroom_phase_duration_seconds_bucket${all}[5m])))`,
            '{{phase}}',
          ],
        ],
        { defaults: { unit: 's', min: 0 }, overrides: [] },
      );
      // The phase alerts' SLI: a phase's p95 is within budget while 95% of the requests that ran it are.
      panel(
        'timeseries',
        `Phases within budget (5m; objective ${minus('1', phaseThreshold)})`,
        [[`1 - headroom:slo_phase_over_budget:ratio_rate5m{${match}}`, '{{phase}}']],
        percentUnit(Number(minus('1', phaseThreshold))),
      );
    }
  }

  row('Protection and dependencies');
  panel(
    'timeseries',
    'Cache hit ratio (L1, hit or stale)',
    [
      [
        'sum by (cache) (rate(headroom_cache_requests_total{tier="l1",result=~"hit|stale"}[5m])) / sum by (cache) (rate(headroom_cache_requests_total{tier="l1"}[5m]))',
        '{{cache}}',
      ],
    ],
    percentUnit(0.5),
    6,
  );
  panel(
    'timeseries',
    'Breakers (0 closed, 1 half-open, 2 open)',
    [['max by (breaker) (headroom_breaker_state)', '{{breaker}}']],
    { defaults: { unit: 'none', min: 0, max: 2, thresholds: redAbove(1.5) }, overrides: [] },
    6,
  );
  panel(
    'timeseries',
    'Rate-limit decisions',
    [['sum by (policy, result) (rate(headroom_ratelimit_decisions_total[5m]))', '{{policy}} {{result}}']],
    { defaults: { unit: 'ops', min: 0 }, overrides: [] },
    6,
  );
  panel(
    'timeseries',
    'Job queues',
    [['sum by (queue, state) (headroom_jobs)', '{{queue}} {{state}}']],
    { defaults: { unit: 'none', min: 0 }, overrides: [] },
    6,
  );

  // Real users: a row per journey, its p75 timings and CLS (web-vitals' own percentile) and the share of page
  // views within each budget over the hour the RUM alerts read, against the journey's target.
  for (const budget of spec.rum) {
    const entries = Object.entries(budget.budgets) as [RumMetric, number][];
    const timed = entries.filter(([metric]) => metric !== 'CLS');
    const cls = budget.budgets.CLS;
    row(`Real users: ${budget.journey} (target ${decimalOf(budget.target.decimal)} within budget)`);
    if (timed.length > 0) {
      panel(
        'timeseries',
        `Timings p75 (budgets ${timed.map(([metric, ms]) => `${metric} ${ms} ms`).join(', ')})`,
        timed.map(([metric]): [string, string] => {
          const series = rumSeries(budget.journey, metric);
          return [
            `histogram_quantile(0.75, sum by (le) (rate(${series.metric}_bucket{${series.selector}}[5m])))`,
            metric,
          ];
        }),
        { defaults: { unit: 's', min: 0 }, overrides: [] },
      );
    }
    if (cls !== undefined) {
      const series = rumSeries(budget.journey, 'CLS');
      panel(
        'timeseries',
        `CLS p75 (budget ${rumLe('CLS', cls)})`,
        [
          [
            `histogram_quantile(0.75, sum by (le) (rate(${series.metric}_bucket{${series.selector}}[5m])))`,
            'CLS',
          ],
        ],
        { defaults: { unit: 'none', min: 0, thresholds: redAbove(cls) }, overrides: [] },
      );
    }
    panel(
      'timeseries',
      'Page views within budget (1h)',
      [[`1 - headroom:rum_over_budget:ratio_rate1h{journey="${escapeLabel(budget.journey)}"}`, '{{metric}}']],
      percentUnit(budget.target.value),
    );
  }

  return {
    uid: `headroom-${spec.service}`.slice(0, 40),
    title: `${spec.service} (headroom)`,
    description: `Generated by headroom gen from the spec of ${spec.service}. Do not edit: change headroom.yaml and generate again.`,
    tags: ['headroom', spec.service],
    schemaVersion: 39,
    version: 1,
    editable: false,
    graphTooltip: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    timezone: 'browser',
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          refresh: 1,
        },
      ],
    },
    annotations: {
      list: [
        {
          name: 'Deploys',
          datasource,
          enable: true,
          iconColor: 'blue',
          // Each instance's start, at the time it started: the value is the start time, so the marker sits there.
          expr: `max by (version, commit) (headroom_start_time_seconds{service="${escapeLabel(spec.service)}"}) * 1000`,
          useValueForTime: true,
          step: '1m',
          titleFormat: 'deploy {{version}}',
          textFormat: 'commit {{commit}}',
          tagKeys: 'version,commit',
        },
      ],
    },
    panels,
  };
}

// Grafana threshold steps: the base colour, then red from `value` up (or below it).
function redAbove(value: number) {
  return {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      { color: 'red', value },
    ],
  };
}
function redBelow(value: number) {
  return {
    mode: 'absolute',
    steps: [
      { color: 'red', value: null },
      { color: 'green', value },
    ],
  };
}
function percentUnit(redUnder: number) {
  return { defaults: { unit: 'percentunit', min: 0, max: 1, thresholds: redBelow(redUnder) }, overrides: [] };
}

const windowLabel = (ms: number) => `${Math.round(ms / 86_400_000)}d`;

// The budget left over the spec's window, from the raw counters (the recording rules cover up to 3 days): for
// errors, 1 − (error ratio ÷ allowed ratio); for each latency percentile, 1 − (share over budget ÷ share allowed).
function budgetLeft(spec: Pick<Spec, 'windowMs'>, objective: Objective): [string, string][] {
  const w = windowLabel(spec.windowMs);
  const all = objectiveSelector(objective);
  const out: [string, string][] = [];
  const budget = errorBudget(objective);
  if (budget) {
    const failed = objectiveSelector(objective, `,code=~"${budget.statuses}"`);
    out.push([
      `1 - ((sum(increase(http_requests_total${failed}[${w}])) or vector(0)) / sum(increase(http_requests_total${all}[${w}]))) / ${budget.ratio}`,
      'errors',
    ]);
  }
  for (const [p, ms] of Object.entries(objective.latency) as [Percentile, number][]) {
    const within = objectiveSelector(objective, `,le="${leOf(ms)}"`);
    out.push([
      `1 - (1 - sum(increase(http_request_duration_seconds_bucket${within}[${w}])) / sum(increase(http_request_duration_seconds_count${all}[${w}]))) / ${minus('1', decimalOf(quantileOf(p)))}`,
      p,
    ]);
  }
  return out;
}
