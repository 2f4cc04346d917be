// A load scenario: who to hit, at what rate, and what each iteration does.

/** One HTTP request of a flow; strings may hold `${...}` expressions (see template.ts). */
export interface Step {
  name?: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Variables to take from the JSON answer: `{ token: '$.token' }` (JSONPath). */
  capture?: Record<string, string>;
  /** Expected status codes; another status counts as a failed check. @default any 2xx or 3xx */
  status?: number[];
  /** Checks on the JSON answer: JSONPath → the value expected there, or `exists`. */
  expect?: Record<string, unknown>;
  /**
   * Sends the request again, `everyMs` apart, until `until` holds of its JSON answer (JSONPath → value, or
   * `exists`), at most `max` times in all; each request counts, and a step whose answer never gets there fails
   * its check. For work that is acknowledged first and done later (an export: request, poll, download).
   */
  poll?: { until: Record<string, unknown>; everyMs: number; max: number };
}

export interface Flow {
  name: string;
  /** Relative frequency among flows. @default 1 */
  weight: number;
  steps: Step[];
}

export interface OpenStage {
  name: string;
  durationMs: number;
  /** Whether the gate judges this stage. @default true (false for warm-up) */
  judge: boolean;
  /** Iterations started per second (an open model: they start whether or not earlier ones finished). */
  rate: number;
  /** Ramp linearly to this rate by the end of the stage. */
  to?: number;
}

export interface ClosedStage {
  name: string;
  durationMs: number;
  judge: boolean;
  /** Virtual users, each running iterations back to back with `thinkTimeMs` between them. */
  vus: number;
  thinkTimeMs: number;
}

export interface Scenario {
  name: string;
  target: string;
  seed: number;
  model: 'open' | 'closed';
  stages: OpenStage[] | ClosedStage[];
  /** Open model: iterations in flight beyond this are dropped (and counted), so the generator cannot drown. */
  maxInflight: number;
  timeoutMs: number;
  vars: Record<string, unknown>;
  /** Rows of each data feed, loaded from CSV or JSON; iteration n uses row n mod length. */
  feeds: Record<string, Record<string, string>[]>;
  /** Steps run once before the stages; their captures are visible to every iteration. */
  setup: Step[];
  flows: Flow[];
  /** Judge the spec's throughput floors: only a scenario that offers that much load should (peak, spike). */
  judgeThroughput: boolean;
  /** A spec to name routes by and to judge against. */
  spec?: string;
  /** Largest share of a route's requests whose checks (status, `expect`) may fail; beyond it the run fails. */
  checkFailures: number;
  /** A spike drill's criteria, judged on the run (gate/spike.ts). */
  spike?: SpikeCriteria;
  /** A soak's criteria: the target's memory and the p95's steadiness over a long stage (gate/soak.ts). */
  soak?: SoakCriteria;
}

/** What a soak must show: judged by `judgeSoak`, exit 1 when any fails. */
export interface SoakCriteria {
  /** The long stage judged. @default the last stage */
  stage: string;
  /** The p95 is taken per window of this many ms across the stage. @default a tenth of the stage, at least 10 s */
  windowMs: number;
  /** The target's `/metrics` is read this often for `process_resident_memory_bytes`, in ms. @default 10000 */
  scrapeMs: number;
  /** Where on the target. @default '/metrics' */
  metricsPath: string;
  /**
   * The largest RSS growth, in MB an hour (least-squares slope over the stage). @default the seed's 10% over
   * 6 h: the stage's first sample × 0.1 ÷ 6
   */
  rssSlopeMBPerHour?: number;
  /** The windows' p95s: their trend across the stage and their spread, each at most this share of their mean. @default 0.1 */
  p95Drift: number;
}

/** What a spike must not break: judged by `judgeSpike`, exit 1 when any fails. */
export interface SpikeCriteria {
  /** The overload stage. */
  stage: string;
  /** The stage it is compared with. @default the stage before `stage` */
  baseline: string;
  /** Back to normal within this long after the spike's end, in ms. @default 5000 */
  recoveryMs: number;
  /** The admitted p99 during the spike at most this many times the baseline's. @default 2 */
  p99Factor: number;
  /** Recovered: the admitted p99 from then on at most this many times the baseline's (or 2 ms above it). @default 1.2 */
  recoveryFactor: number;
  /** The only answers other than 2xx and 3xx allowed during the spike. @default [429, 503] */
  refusals: number[];
}
