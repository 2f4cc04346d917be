// What a run learns about one route in one stage: latency histograms (from the intended start and from
// the actual send) of admitted requests and of refused ones apart, exact status counts, network errors and
// failed checks, and (for a route with phase budgets) each phase's histogram from `Server-Timing`. Histograms
// merge exactly.

import type { StatusPattern } from '@headroom/core/slo';
import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in microseconds, up to 10 minutes, to 3 significant digits. */
function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

const statusClasses = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * Answers that refuse a request rather than serve it: too many requests, or shed while overloaded. Their
 * latency is kept apart: a refusal answered in 1 ms must not pull down the percentiles budgets judge.
 */
export const refusalStatuses: ReadonlySet<number> = new Set([429, 503]);

export interface RouteStatsJson {
  stage: string;
  route: string;
  corrected: string;
  raw: string;
  status: Record<string, number>;
  /** Exact counts by status code (older artifacts have only the classes in `status`). */
  codes?: Record<string, number>;
  /** Latency of refused requests (429, 503), from the intended start. */
  refused?: string;
  networkErrors: number;
  failedChecks: number;
  firstAt: number;
  lastAt: number;
  /** Admitted answers that carried `Server-Timing` (routes with phase budgets only). */
  timed?: number;
  /** Each phase's durations from `Server-Timing`, of the admitted answers where it ran. */
  phases?: Record<string, string>;
}

/**
 * Counters and histograms of one (stage, route) cell.
 *
 * @example
 * const cell = new RouteStats('peak', 'GET /v1/cases/:id');
 * cell.record({ intendedMs: 0, sentMs: 3, doneMs: 10, status: 200 });
 */
export class RouteStats {
  readonly stage: string;
  readonly route: string;
  /** Admitted requests, from each one's intended start: what users saw (coordinated omission corrected). */
  readonly corrected = histogram();
  /** Admitted requests, from the actual send: what the server took once the request reached it. */
  readonly raw = histogram();
  /** Refused requests (429, 503), from the intended start. */
  readonly refused = histogram();
  /** Answers by status class (`2xx`). */
  readonly status: Record<string, number> = {};
  /** Answers by exact status code (`'429'`). */
  readonly codes: Record<string, number> = {};
  networkErrors = 0;
  failedChecks = 0;
  /** Run-relative ms of the first and last completion, for throughput. */
  firstAt = Number.POSITIVE_INFINITY;
  lastAt = 0;
  /**
   * Admitted answers that carried a `Server-Timing` header: counted only on routes with phase budgets (where
   * the generator reads the header), so 0 there means the server sends none.
   */
  timed = 0;
  /** Each budgeted phase's self time, from `Server-Timing`, over the admitted answers where it ran. */
  readonly phases = new Map<string, hdr.Histogram>();

  constructor(stage: string, route: string) {
    this.stage = stage;
    this.route = route;
  }

  record(sample: {
    intendedMs: number;
    sentMs: number;
    doneMs: number;
    status?: number;
    checkFailed?: boolean;
  }): void {
    this.add(sample.intendedMs, sample.sentMs, sample.doneMs, sample.status, sample.checkFailed === true);
  }

  /** `record` with no sample object, for the generator's hot path. `status` undefined: no answer came. */
  add(
    intendedMs: number,
    sentMs: number,
    doneMs: number,
    status: number | undefined,
    checkFailed: boolean,
  ): void {
    const corrected = Math.max(1, Math.round((doneMs - intendedMs) * 1000));
    if (status !== undefined && refusalStatuses.has(status)) this.refused.recordValue(corrected);
    else {
      this.corrected.recordValue(corrected);
      this.raw.recordValue(Math.max(1, Math.round((doneMs - sentMs) * 1000)));
    }
    if (status === undefined) this.networkErrors++;
    else {
      const cls = statusClasses[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`;
      this.status[cls] = (this.status[cls] ?? 0) + 1;
      this.codes[status] = (this.codes[status] ?? 0) + 1;
    }
    if (checkFailed) this.failedChecks++;
    if (doneMs < this.firstAt) this.firstAt = doneMs;
    if (doneMs > this.lastAt) this.lastAt = doneMs;
  }

  /**
   * The phases of one admitted answer's `Server-Timing`: `timings[i]` is phase `names[i]`'s ms, NaN when it
   * did not run (a cache hit runs no query: counting it as a 0 ms query would hide slow ones).
   */
  addPhases(names: readonly string[], timings: Float64Array): void {
    this.timed++;
    for (let i = 0; i < names.length; i++) {
      const ms = timings[i]!;
      if (Number.isNaN(ms)) continue;
      this.#phase(names[i]!).recordValue(Math.round(ms * 1000));
    }
  }

  #phase(name: string): hdr.Histogram {
    let found = this.phases.get(name);
    if (!found) {
      found = histogram();
      this.phases.set(name, found);
    }
    return found;
  }

  /** Admitted answers in which `phase` ran. */
  phaseCount(phase: string): number {
    return this.phases.get(phase)?.totalCount ?? 0;
  }

  /** Percentile of `phase`'s durations in ms (never above its largest sample); 0 when it never ran. */
  phasePercentileMs(phase: string, p: number): number {
    const histogram = this.phases.get(phase);
    if (!histogram || histogram.totalCount === 0) return 0;
    return Math.min(histogram.getValueAtPercentile(p), histogram.maxValue) / 1000;
  }

  /** Every request that ended: admitted, refused, or without an answer. */
  get count(): number {
    return this.corrected.totalCount + this.refused.totalCount;
  }

  /** Requests that were not refused (network errors included): the samples latency budgets judge. */
  get admitted(): number {
    return this.corrected.totalCount;
  }

  /** Share of requests answered with one of `statuses`, or never answered (network errors, timeouts). */
  share(statuses: readonly StatusPattern[]): number {
    if (this.count === 0) return 0;
    let failed = this.networkErrors;
    for (const pattern of statuses) {
      failed += typeof pattern === 'number' ? (this.codes[pattern] ?? 0) : (this.status[pattern] ?? 0);
    }
    return failed / this.count;
  }

  /** Share of answers that are 5xx or never came (network errors, timeouts). */
  get errorShare(): number {
    return this.share(['5xx']);
  }

  /** Share of requests whose scenario checks (expected status, `expect`) failed. */
  get failedCheckShare(): number {
    return this.count === 0 ? 0 : this.failedChecks / this.count;
  }

  /** Empties the cell for reuse (the per-second window of live progress), keeping its histograms' memory. */
  reset(): void {
    this.corrected.reset();
    this.raw.reset();
    this.refused.reset();
    for (const key of Object.keys(this.status)) delete this.status[key];
    for (const key of Object.keys(this.codes)) delete this.codes[key];
    this.networkErrors = 0;
    this.failedChecks = 0;
    this.firstAt = Number.POSITIVE_INFINITY;
    this.lastAt = 0;
    this.timed = 0;
    for (const histogram of this.phases.values()) histogram.reset();
  }

  /** Adds another cell's figures into this one, exactly. */
  merge(other: RouteStats): void {
    this.corrected.add(other.corrected);
    this.raw.add(other.raw);
    this.refused.add(other.refused);
    for (const [cls, n] of Object.entries(other.status)) this.status[cls] = (this.status[cls] ?? 0) + n;
    for (const [code, n] of Object.entries(other.codes)) this.codes[code] = (this.codes[code] ?? 0) + n;
    this.networkErrors += other.networkErrors;
    this.failedChecks += other.failedChecks;
    this.firstAt = Math.min(this.firstAt, other.firstAt);
    this.lastAt = Math.max(this.lastAt, other.lastAt);
    this.timed += other.timed;
    for (const [name, histogram] of other.phases) this.#phase(name).add(histogram);
  }

  /**
   * Percentile of the admitted requests' corrected latency (or `raw`, or the `refused` ones'), in
   * milliseconds; 0 when there are none. Never above the largest sample: HDR answers a percentile with the
   * top of its bucket, up to 0.1% above the values in it (3 significant digits), and a p99 above the max is
   * a figure nobody can trust, in a table or at the gate.
   */
  percentileMs(p: number, kind: 'corrected' | 'raw' | 'refused' = 'corrected'): number {
    const histogram = this[kind];
    return Math.min(histogram.getValueAtPercentile(p), histogram.maxValue) / 1000;
  }

  toJSON(): RouteStatsJson {
    return {
      stage: this.stage,
      route: this.route,
      corrected: hdr.encodeIntoCompressedBase64(this.corrected),
      raw: hdr.encodeIntoCompressedBase64(this.raw),
      status: this.status,
      codes: this.codes,
      refused: hdr.encodeIntoCompressedBase64(this.refused),
      networkErrors: this.networkErrors,
      failedChecks: this.failedChecks,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
      ...(this.timed > 0 || this.phases.size > 0
        ? {
            timed: this.timed,
            phases: Object.fromEntries(
              [...this.phases].map(([name, h]) => [name, hdr.encodeIntoCompressedBase64(h)]),
            ),
          }
        : {}),
    };
  }

  static fromJSON(json: RouteStatsJson): RouteStats {
    const cell = new RouteStats(json.stage, json.route);
    cell.corrected.add(hdr.decodeFromCompressedBase64(json.corrected));
    cell.raw.add(hdr.decodeFromCompressedBase64(json.raw));
    if (json.refused) cell.refused.add(hdr.decodeFromCompressedBase64(json.refused));
    Object.assign(cell.status, json.status);
    Object.assign(cell.codes, json.codes ?? {});
    cell.networkErrors = json.networkErrors;
    cell.failedChecks = json.failedChecks;
    cell.firstAt = json.firstAt;
    cell.lastAt = json.lastAt;
    cell.timed = json.timed ?? 0;
    for (const [name, encoded] of Object.entries(json.phases ?? {}))
      cell.#phase(name).add(hdr.decodeFromCompressedBase64(encoded));
    return cell;
  }
}
