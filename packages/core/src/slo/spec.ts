// The one spec that drives the load gate's budgets: the types of a loaded headroom.yaml.

import type { Ratio } from './units.ts';

/** Percentiles a latency objective may set. */
export const percentiles = ['p50', 'p90', 'p95', 'p99', 'p99.9'] as const;
export type Percentile = (typeof percentiles)[number];

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
  /** Largest acceptable share of 5xx answers. */
  errors?: Ratio;
  availability?: Ratio;
  /** Requests per second a load test must sustain. */
  throughput?: number;
}

/** A validated, normalised headroom.yaml. */
export interface Spec {
  service: string;
  /** The SLO period for burn-rate maths, in milliseconds. */
  windowMs: number;
  objectives: Objective[];
}

/** One thing wrong with a spec: where (a JSON pointer into the file) and which rule it breaks. */
export interface SpecProblem {
  path: string;
  rule: string;
  message: string;
}
