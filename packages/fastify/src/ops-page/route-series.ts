// Each route's answers since the process started, read from the plugin's own `http_request_duration_seconds`
// (the series `/metrics` prints, taken from the registry's metric object, not from its text): answers by status
// code, the latency histogram summed over codes, and the trace id of a slow exemplar when tracing is on. The
// phases of a route come the same way from `headroom_phase_duration_seconds`.

import type { Registry } from 'prom-client';

/** One route template's answers, all status codes together. */
export interface RouteSeries {
  method: string;
  route: string;
  requests: number;
  /** Answers by status code. */
  codes: Map<number, number>;
  /** Cumulative counts by upper edge (seconds), ascending; the last edge is Infinity (`+Inf`). */
  buckets: [number, number][];
  /** The trace id of the exemplar of the highest bucket that has one. */
  slowTrace: string | undefined;
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  exemplar?: { labelSet: { trace_id?: string } };
}

/** One phase of one route (`headroom_phase_duration_seconds`): the requests that ran it and its self time. */
export interface PhaseSeries {
  method: string;
  route: string;
  phase: string;
  requests: number;
  /** Cumulative counts by upper edge (seconds), ascending; the last edge is Infinity (`+Inf`). */
  buckets: [number, number][];
}

/**
 * Every route's series, read from `registry` now.
 *
 * @example
 * const routes = await readRouteSeries(app.headroom.registry);
 */
export async function readRouteSeries(registry: Registry): Promise<RouteSeries[]> {
  const grouped = await readHistogram(registry, 'http_request_duration_seconds', ['method', 'route']);
  return grouped.map(({ labels, requests, codes, buckets, slowTrace }) => ({
    method: labels.method!,
    route: labels.route!,
    requests,
    codes,
    buckets,
    slowTrace,
  }));
}

/**
 * Every route's phases (only routes with phase budgets have them), read from `registry` now.
 *
 * @example
 * const phases = await readPhaseSeries(app.headroom.registry);
 */
export async function readPhaseSeries(registry: Registry): Promise<PhaseSeries[]> {
  const grouped = await readHistogram(registry, 'headroom_phase_duration_seconds', [
    'method',
    'route',
    'phase',
  ]);
  return grouped.map(({ labels, requests, buckets }) => ({
    method: labels.method!,
    route: labels.route!,
    phase: labels.phase!,
    requests,
    buckets,
  }));
}

interface Grouped {
  labels: Record<string, string>;
  requests: number;
  codes: Map<number, number>;
  buckets: [number, number][];
  slowTrace: string | undefined;
}

// A histogram's samples summed over every label but `keys`: counts by `code` where it has one, buckets, and
// the exemplar of the highest bucket that has one.
async function readHistogram(registry: Registry, name: string, keys: readonly string[]): Promise<Grouped[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return [];
  const { values } = (await metric.get()) as unknown as { values: Sample[] };
  const groups = new Map<string, Grouped & { edges: Map<number, number>; traceAt: number }>();
  for (const sample of values) {
    const key = keys.map((k) => sample.labels[k]).join(' ');
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        labels: Object.fromEntries(keys.map((k) => [k, String(sample.labels[k])])),
        requests: 0,
        codes: new Map(),
        buckets: [],
        slowTrace: undefined,
        edges: new Map(),
        traceAt: Number.NEGATIVE_INFINITY,
      };
      groups.set(key, group);
    }
    if (sample.metricName?.endsWith('_bucket')) {
      const { le } = sample.labels;
      const edge = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      group.edges.set(edge, (group.edges.get(edge) ?? 0) + sample.value);
      const trace = sample.exemplar?.labelSet.trace_id;
      if (trace !== undefined && edge >= group.traceAt) {
        group.slowTrace = trace;
        group.traceAt = edge;
      }
    } else if (sample.metricName?.endsWith('_count')) {
      group.requests += sample.value;
      const { code } = sample.labels;
      if (code !== undefined)
        group.codes.set(Number(code), (group.codes.get(Number(code)) ?? 0) + sample.value);
    }
  }
  return [...groups.values()].map(({ edges, traceAt: _, ...group }) => ({
    ...group,
    buckets: [...edges.entries()].sort((a, b) => a[0] - b[0]),
  }));
}

/**
 * The `q`-quantile (0 to 1) of a cumulative histogram, as Prometheus's `histogram_quantile` estimates it: linear
 * within the bucket the rank falls in, the highest finite edge when it falls in `+Inf`, null when empty.
 * Self-contained on purpose: the page's script carries its source, so the page's live chart and the server's
 * tables estimate alike.
 *
 * @example
 * histogramQuantile([[0.1, 90], [0.2, 100], [Infinity, 100]], 0.95); // 0.15
 */
export function histogramQuantile(buckets: readonly (readonly [number, number])[], q: number): number | null {
  const total = buckets.length === 0 ? 0 : buckets[buckets.length - 1]![1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [edge, count] of buckets) {
    if (count >= rank) {
      if (edge === Number.POSITIVE_INFINITY) return lower;
      if (count === below) return edge;
      return lower + (edge - lower) * ((rank - below) / (count - below));
    }
    lower = edge;
    below = count;
  }
  return lower;
}

/**
 * The share of answers at or under `edge` seconds, exactly, when `edge` is one of the histogram's edges (the
 * plugin makes every budget of the spec one); null otherwise, or when there are no answers.
 *
 * @example
 * shareWithin(series.buckets, 0.12); // 0.97: 97 % of answers within 120 ms
 */
export function shareWithin(buckets: readonly (readonly [number, number])[], edge: number): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  const found = buckets.find(([le]) => le === edge);
  return found === undefined || total === 0 ? null : found[1] / total;
}
