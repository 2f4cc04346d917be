export type {
  DegradeAction,
  DegradeRule,
  DegradeRuleState,
  DegradeState,
  DegradeTarget,
} from './degrader.ts';
export { createDegrader, Degrader } from './degrader.ts';
export { sloErrorCodes, sloErrors } from './errors.ts';
export { loadSpec, parseSpec } from './load-spec.ts';
export type { DegradeSource, PrometheusSourceOptions, SloQuery, SloReading } from './prometheus-source.ts';
export { escapeLabel, prometheusQuery, prometheusSource, sloQueries } from './prometheus-source.ts';
export { phasePattern, specSchema } from './schema.ts';
export type { SliReading } from './sli-window.ts';
export { SliWindow } from './sli-window.ts';
export type {
  ErrorBudget,
  Objective,
  Percentile,
  RumBudget,
  RumMetric,
  Spec,
  SpecProblem,
  StatusPattern,
  TelemetrySpec,
  TracingSpec,
} from './spec.ts';
export { matchesStatus, percentiles, quantileOf } from './spec.ts';
export type { Ratio } from './units.ts';
export { durationPattern, parseDuration, parseRate, parseRatio, ratePattern, ratioPattern } from './units.ts';
export type { YamlSource } from './yaml-source.ts';
export { readYaml } from './yaml-source.ts';
