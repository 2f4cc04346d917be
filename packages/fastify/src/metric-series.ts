// Counters and histograms for hot paths: a series is resolved once into a handle whose `inc` / `observe` adds
// to plain numbers. prom-client hashes the label set on every `inc` and `observe`, even through a `labels()`
// child (a cache-hit request makes three or four such calls, a visible share of its CPU in a profile). These
// families register in a prom-client Registry like its own metrics (the registry only calls `get()`), so
// /metrics prints them the same way.
//
// Each family holds at most `maxSeries` label sets (the spec's `telemetry.max_series`): past it, `labels()` hands
// out one overflow series whose every label is `__overflow__`, and the refusal is counted in
// `headroom_metric_series_dropped_total{metric}`. The check runs only when a label set is new, so a handle's
// `inc` / `observe` costs what it did.

import { invalidOption } from '@headroom/core/errors';
import type { Registry } from 'prom-client';

/** The counter of label sets refused by a full family, by family name (see {@link guardSeries}). */
export const seriesDroppedMetric = 'headroom_metric_series_dropped_total';

/** Label sets a family holds when neither its options nor its registry's guard say otherwise. */
export const defaultMaxSeries = 10_000;

/** The value of every label of a full family's overflow series. */
export const overflowLabel = '__overflow__';

// What prom-client's registry reads from a metric's `get()` (its own type for this is not exported).
interface Sample {
  labels: Labels;
  /** Labels the registry formats once per object (it caches the text by identity), printed after `labels`. */
  sharedLabels?: Labels;
  value: number;
  metricName?: string;
  exemplar?: Exemplar;
}
interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

/** A counter series: add with `inc`. */
export interface CounterSeries {
  inc(amount?: number): void;
}

/** A histogram series: record a value with `observe`, or with the trace it came from with `observeTraced`. */
export interface HistogramSeries {
  observe(value: number): void;
  /**
   * Records `value` and keeps it as the exemplar of its bucket (the latest one wins): OpenMetrics scrapes show it
   * with its trace id, so a slow bucket links to a trace of a slow request.
   */
  observeTraced(value: number, traceId: string, spanId: string, atSeconds: number): void;
}

/** An exemplar as prom-client prints it (OpenMetrics only). */
interface Exemplar {
  labelSet: { trace_id: string; span_id: string };
  value: number;
  timestamp: number;
}

/** Name, help and label names of a family, as prom-client takes them. */
export interface FamilyOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers?: Registry[];
  /**
   * Label sets this family may hold; past it, new ones share one overflow series. @default the limit of the
   * {@link guardSeries} guard of one of `registers`, else 10000
   */
  maxSeries?: number;
}

type Labels = Record<string, string | number>;

// The key of a family's overflow series in its map of series (label sets are keyed by strings).
const overflowKey = Symbol('overflow');

abstract class Family<L extends string, S> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  readonly #labelNames: readonly L[];
  readonly #maxSeries: number;
  readonly #guard: SeriesGuard | undefined;
  protected readonly series = new Map<string | typeof overflowKey, { labels: Labels; series: S }>();

  constructor(options: FamilyOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    const registers = options.registers ?? [];
    for (const registry of registers) {
      const guard = registry.getSingleMetric(seriesDroppedMetric);
      if (guard instanceof SeriesGuard) this.#guard = guard;
    }
    const max = options.maxSeries ?? this.#guard?.maxSeries ?? defaultMaxSeries;
    if (!(Number.isInteger(max) && max >= 1)) {
      throw invalidOption(`metric ${options.name}`, 'maxSeries', 'an integer >= 1', max);
    }
    this.#maxSeries = max;
    for (const registry of registers) registry.registerMetric(this as never);
    // Drops start at 0, so the first one shows in `increase()` (a counter that appears at 1 is missed).
    this.#guard?.labels(this.name);
  }

  /**
   * The series of these label values (in `labelNames` order), made on first use; keep the handle. A full family
   * answers a new label set with its overflow series (every label `__overflow__`) and counts the refusal.
   */
  labels(...values: (string | number)[]): S {
    const id = values.join('\u0000');
    let found = this.series.get(id);
    if (found === undefined) {
      if (this.series.size >= this.#maxSeries) return this.#overflow();
      found = { labels: this.#labelsOf(values), series: this.create() };
      this.series.set(id, found);
    }
    return found.series;
  }

  /** Forgets one series (a tenant that left the top N): it leaves the exposition; its handle stops counting. */
  remove(...values: (string | number)[]): void {
    this.series.delete(values.join('\u0000'));
  }

  // The overflow series is kept under a key no label set can have, so the family holds at most maxSeries + 1
  // series. Looking the drop counter up again per refusal keeps it counting after `reset()`.
  #overflow(): S {
    this.#guard?.labels(this.name).inc();
    let found = this.series.get(overflowKey);
    if (found === undefined) {
      found = { labels: this.#labelsOf(this.#labelNames.map(() => overflowLabel)), series: this.create() };
      this.series.set(overflowKey, found);
    }
    return found.series;
  }

  #labelsOf(values: readonly (string | number)[]): Labels {
    const labels: Labels = {};
    this.#labelNames.forEach((name, i) => {
      labels[name] = values[i] ?? '';
    });
    return labels;
  }

  /** Forgets every series (prom-client's `registry.resetMetrics()` calls it); handles already given out stop counting. */
  reset(): void {
    this.series.clear();
  }

  protected abstract create(): S;
}

class CounterValue implements CounterSeries {
  value = 0;
  inc(amount = 1): void {
    this.value += amount;
  }
}

/** A counter family whose series are handles; see the file comment for why. */
export class CounterFamily<L extends string> extends Family<L, CounterValue> {
  readonly type = 'counter' as const;

  protected create(): CounterValue {
    return new CounterValue();
  }

  get(): Collected {
    const values: Sample[] = [];
    for (const { labels, series } of this.series.values()) values.push({ labels, value: series.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * `headroom_metric_series_dropped_total{metric}`, registered in a registry before its families: every
 * {@link CounterFamily} and {@link HistogramFamily} registered there afterwards takes `maxSeries` from it and
 * counts here each `labels()` call it answered with its overflow series. Callers keep handles, so that is about
 * one count per refused label set.
 *
 * @example
 * const guard = new SeriesGuard(registry, 10_000); // or guardSeries(registry, 10_000)
 */
export class SeriesGuard extends CounterFamily<'metric'> {
  /** Label sets each family of the registry may hold. */
  readonly maxSeries: number;

  constructor(registry: Registry, maxSeries: number) {
    if (!(Number.isInteger(maxSeries) && maxSeries >= 1)) {
      throw invalidOption('guardSeries', 'maxSeries', 'an integer >= 1', maxSeries);
    }
    // One series per family name: bounded by the code, not by traffic.
    super({
      name: seriesDroppedMetric,
      help: 'Label sets a metric refused because it held its maximum (telemetry.max_series); their observations went to its __overflow__ series.',
      labelNames: ['metric'],
      registers: [registry],
      maxSeries: Number.MAX_SAFE_INTEGER,
    });
    this.maxSeries = maxSeries;
  }
}

/**
 * Caps every family later registered in `registry` at `maxSeries` label sets and counts what they refuse in
 * `headroom_metric_series_dropped_total{metric}`. Call it before creating the families.
 *
 * @example
 * const registry = new Registry();
 * guardSeries(registry, spec.telemetry.maxSeries);
 * const total = new CounterFamily({ name: 'http_requests_total', help: '…', labelNames: ['route'], registers: [registry] });
 */
export function guardSeries(registry: Registry, maxSeries: number = defaultMaxSeries): SeriesGuard {
  return new SeriesGuard(registry, maxSeries);
}

class HistogramValue implements HistogramSeries {
  readonly #upper: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(upper: readonly number[]) {
    this.#upper = upper;
    this.counts = new Float64Array(upper.length);
  }

  /** The exemplar of each bucket, the last one +Inf's; made by the first traced observation. */
  exemplars: (Exemplar | undefined)[] | undefined;

  observe(value: number): void {
    this.#add(value);
  }

  observeTraced(value: number, traceId: string, spanId: string, atSeconds: number): void {
    const i = this.#add(value);
    this.exemplars ??= new Array(this.#upper.length + 1);
    this.exemplars[i] = { labelSet: { trace_id: traceId, span_id: spanId }, value, timestamp: atSeconds };
  }

  // The bucket index of `value` (upper.length for +Inf only).
  #add(value: number): number {
    const upper = this.#upper;
    let i = 0;
    while (i < upper.length && value > upper[i]!) i++;
    if (i < upper.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
    return i;
  }
}

/** A histogram family whose series are handles; see the file comment for why. */
export class HistogramFamily<L extends string> extends Family<L, HistogramValue> {
  readonly type = 'histogram' as const;
  readonly #buckets: readonly number[];

  constructor(options: FamilyOptions<L> & { buckets: readonly number[] }) {
    super(options);
    this.#buckets = [...options.buckets].sort((a, b) => a - b);
  }

  protected create(): HistogramValue {
    return new HistogramValue(this.#buckets);
  }

  /** Every sample with its full label set (prom-client's `getMetricsAsJSON`, OpenMetrics views). */
  get(): Collected {
    return this.#collect(false);
  }

  /**
   * What the registry prints from (it prefers this to `get()`, as for its own histograms): a series' labels go
   * as `sharedLabels`, the same object every scrape, so the registry formats them once per series and each
   * bucket line formats only `le` (at 10,000 series a scrape took 2.5 times as long without it).
   */
  getForPromString(): Collected {
    return this.#collect(true);
  }

  #collect(shared: boolean): Collected {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, series } of this.series.values()) {
      const withLe = (le: number | string): Sample =>
        shared
          ? { labels: { le }, sharedLabels: labels, value: 0, metricName: bucketName }
          : { labels: { le, ...labels }, value: 0, metricName: bucketName };
      let cumulative = 0;
      const exemplars = series.exemplars;
      this.#buckets.forEach((le, i) => {
        cumulative += series.counts[i]!;
        const sample = withLe(le);
        sample.value = cumulative;
        const exemplar = exemplars?.[i];
        if (exemplar) sample.exemplar = exemplar;
        values.push(sample);
      });
      const inf = withLe('+Inf');
      inf.value = series.count;
      const last = exemplars?.[this.#buckets.length];
      if (last) inf.exemplar = last;
      values.push(inf);
      const [own, sharedLabels] = shared ? [{}, labels] : [labels, undefined];
      values.push({ labels: own, sharedLabels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: own, sharedLabels, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
