// The one spec that drives the load gate's budgets: the types of a loaded headroom.yaml.

import type { DegradeRule } from './degrader.ts';
import type { Ratio } from './units.ts';

/** Percentiles a latency objective may set. */
export const percentiles = ['p50', 'p90', 'p95', 'p99', 'p99.9'] as const;
export type Percentile = (typeof percentiles)[number];

/** A percentile as a quantile: `p95` → 0.95, `p99.9` → 0.999. */
export const quantileOf = (percentile: Percentile | string): number => Number(percentile.slice(1)) / 100;

/** A status an error budget counts: one code (`429`) or a class (`'5xx'`). */
export type StatusPattern = number | '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

/** An error budget: the largest share of requests that may fail, and which answers count as failing. */
export interface ErrorBudget extends Ratio {
  /** Answers that count against the budget, besides requests that got no answer at all. @default ['5xx'] */
  statuses: readonly StatusPattern[];
}

/**
 * True when `status` is one `pattern` names.
 *
 * @example
 * matchesStatus('5xx', 503); // true
 * matchesStatus(429, 429);   // true
 */
export function matchesStatus(pattern: StatusPattern, status: number): boolean {
  return typeof pattern === 'number' ? pattern === status : Math.floor(status / 100) === Number(pattern[0]);
}

/** One objective: a route and what it promises. All durations are in milliseconds. */
export interface Objective {
  name: string;
  /** Upper-case HTTP method, e.g. `GET`. */
  method: string;
  /** The route template exactly as the router knows it, e.g. `/v1/cases/:id`. */
  route: string;
  /** Golden-path journey; becomes the span attribute `app.journey`. */
  journey?: string;
  latency: Partial<Record<Percentile, number>>;
  /** Largest acceptable share of failed requests: 5xx and no answer, or the statuses it names. */
  errors?: ErrorBudget;
  /** Smallest acceptable share of requests answered without a 5xx (a request with no answer counts as down). */
  availability?: Ratio;
  /** Requests per second a load test must sustain. */
  throughput?: number;
  /** p95 budget (ms) of each phase of a request (`auth`, `db`, `serialize`, …), as `Server-Timing` names them. */
  phases?: Readonly<Record<string, number>>;
}

/** What metrics may carry about tenants (`telemetry:`). */
export interface TelemetrySpec {
  /** Metrics may carry a `tenant` label for the busiest N tenants, the rest as `other`; 0: no tenant label. */
  tenantTop: number;
  /** Label sets one metric may hold; past it, new ones are dropped and counted. @default 10000 */
  maxSeries: number;
}

/** Which requests are traced (`tracing:`). */
export interface TracingSpec {
  /** Journeys whose requests are always traced (within `maxPerSecond`). */
  golden: readonly string[];
  /** Traces this process starts per second at most. @default 100 */
  maxPerSecond: number;
  /** W3C baggage keys copied onto spans; any other key is ignored. */
  baggage: readonly string[];
}

/** Real-user metrics a journey's page views are judged on. */
export type RumMetric = 'TTFB' | 'FCP' | 'LCP' | 'INP' | 'CLS';

/** Real-user budgets of one journey (`rum:`): at least `target` of page views within each budget. */
export interface RumBudget {
  journey: string;
  /** Share of page views that must be within each budget. @default 75% (web-vitals' p75) */
  target: Ratio;
  /** Timings in milliseconds; CLS unitless. */
  budgets: Partial<Record<RumMetric, number>>;
}

/** A validated, normalised headroom.yaml. */
export interface Spec {
  service: string;
  /** The SLO period for burn-rate maths, in milliseconds. */
  windowMs: number;
  objectives: Objective[];
  /** The SLO degrader's rules (`degrade:`), each with its objective resolved; empty when there are none. */
  degrade: DegradeRule[];
  telemetry: TelemetrySpec;
  tracing: TracingSpec;
  /** Real-user budgets, one entry per journey; empty when there are none. */
  rum: RumBudget[];
}

/** One thing wrong with a spec: where (a JSON pointer into the file) and which rule it breaks. */
export interface SpecProblem {
  path: string;
  /** The line of the file the problem is at, when it is known. */
  line?: number | undefined;
  rule: string;
  message: string;
}
