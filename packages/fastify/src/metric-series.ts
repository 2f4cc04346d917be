// Counters and histograms for hot paths: a series is resolved once into a handle whose `inc` / `observe` adds
// to plain numbers. prom-client hashes the label set on every `inc` and `observe`, even through a `labels()`
// child (a cache-hit request makes three or four such calls, a visible share of its CPU in a profile). These
// families register in a prom-client Registry like its own metrics (the registry only calls `get()`), so
// /metrics prints them the same way.

import type { Registry } from 'prom-client';

// What prom-client's registry reads from a metric's `get()` (its own type for this is not exported).
interface Sample {
  labels: Labels;
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
}

type Labels = Record<string, string | number>;

abstract class Family<L extends string, S> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  readonly #labelNames: readonly L[];
  protected readonly series = new Map<string, { labels: Labels; series: S }>();

  constructor(options: FamilyOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    for (const registry of options.registers ?? []) registry.registerMetric(this as never);
  }

  /** The series of these label values (in `labelNames` order), made on first use; keep the handle. */
  labels(...values: (string | number)[]): S {
    const id = values.join('\u0000');
    let found = this.series.get(id);
    if (found === undefined) {
      const labels: Labels = {};
      this.#labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? '';
      });
      found = { labels, series: this.create() };
      this.series.set(id, found);
    }
    return found.series;
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

  get(): Collected {
    const values: Sample[] = [];
    for (const { labels, series } of this.series.values()) {
      let cumulative = 0;
      const exemplars = series.exemplars;
      this.#buckets.forEach((le, i) => {
        cumulative += series.counts[i]!;
        const exemplar = exemplars?.[i];
        values.push({
          labels: { le, ...labels },
          value: cumulative,
          metricName: `${this.name}_bucket`,
          ...(exemplar ? { exemplar } : {}),
        });
      });
      const last = exemplars?.[this.#buckets.length];
      values.push({
        labels: { le: '+Inf', ...labels },
        value: series.count,
        metricName: `${this.name}_bucket`,
        ...(last ? { exemplar: last } : {}),
      });
      values.push({ labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
