// What a run learns about one route in one stage: latency histograms (from the intended start and from
// the actual send), status classes, network errors and failed checks. Histograms merge exactly.

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

export interface RouteStatsJson {
  stage: string;
  route: string;
  corrected: string;
  raw: string;
  status: Record<string, number>;
  networkErrors: number;
  failedChecks: number;
  firstAt: number;
  lastAt: number;
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
  /** From each request's intended start: what users saw (coordinated omission corrected). */
  readonly corrected = histogram();
  /** From the actual send: what the server took once the request reached it. */
  readonly raw = histogram();
  readonly status: Record<string, number> = {};
  networkErrors = 0;
  failedChecks = 0;
  /** Run-relative ms of the first and last completion, for throughput. */
  firstAt = Number.POSITIVE_INFINITY;
  lastAt = 0;

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
    this.corrected.recordValue(Math.max(1, Math.round((doneMs - intendedMs) * 1000)));
    this.raw.recordValue(Math.max(1, Math.round((doneMs - sentMs) * 1000)));
    if (status === undefined) this.networkErrors++;
    else {
      const cls = statusClasses[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`;
      this.status[cls] = (this.status[cls] ?? 0) + 1;
    }
    if (checkFailed) this.failedChecks++;
    if (doneMs < this.firstAt) this.firstAt = doneMs;
    if (doneMs > this.lastAt) this.lastAt = doneMs;
  }

  get count(): number {
    return this.corrected.totalCount;
  }

  /** Share of answers that are 5xx or never came (network errors, timeouts). */
  get errorShare(): number {
    return this.count === 0 ? 0 : ((this.status['5xx'] ?? 0) + this.networkErrors) / this.count;
  }

  /** Empties the cell for reuse (the per-second window of live progress), keeping its histograms' memory. */
  reset(): void {
    this.corrected.reset();
    this.raw.reset();
    for (const key of Object.keys(this.status)) delete this.status[key];
    this.networkErrors = 0;
    this.failedChecks = 0;
    this.firstAt = Number.POSITIVE_INFINITY;
    this.lastAt = 0;
  }

  /** Adds another cell's figures into this one, exactly. */
  merge(other: RouteStats): void {
    this.corrected.add(other.corrected);
    this.raw.add(other.raw);
    for (const [cls, n] of Object.entries(other.status)) this.status[cls] = (this.status[cls] ?? 0) + n;
    this.networkErrors += other.networkErrors;
    this.failedChecks += other.failedChecks;
    this.firstAt = Math.min(this.firstAt, other.firstAt);
    this.lastAt = Math.max(this.lastAt, other.lastAt);
  }

  /** Percentile of the corrected latency, in milliseconds. */
  percentileMs(p: number, kind: 'corrected' | 'raw' = 'corrected'): number {
    return this[kind].getValueAtPercentile(p) / 1000;
  }

  toJSON(): RouteStatsJson {
    return {
      stage: this.stage,
      route: this.route,
      corrected: hdr.encodeIntoCompressedBase64(this.corrected),
      raw: hdr.encodeIntoCompressedBase64(this.raw),
      status: this.status,
      networkErrors: this.networkErrors,
      failedChecks: this.failedChecks,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
    };
  }

  static fromJSON(json: RouteStatsJson): RouteStats {
    const cell = new RouteStats(json.stage, json.route);
    cell.corrected.add(hdr.decodeFromCompressedBase64(json.corrected));
    cell.raw.add(hdr.decodeFromCompressedBase64(json.raw));
    Object.assign(cell.status, json.status);
    cell.networkErrors = json.networkErrors;
    cell.failedChecks = json.failedChecks;
    cell.firstAt = json.firstAt;
    cell.lastAt = json.lastAt;
    return cell;
  }
}
