// Figures imported from another tool's summary: percentiles as that tool reported them, no histograms.

import { matchesStatus, type StatusPattern } from '@headroom/core/slo';
import type { RouteFigures } from '../gate/judge.ts';

/** What a tool's summary says of one route. */
export interface SummaryCounts {
  /** Requests that ended. */
  count: number;
  /** Requests whose latency the percentiles describe. @default count */
  admitted?: number;
  /** Answers by exact status code, when the tool reports them. */
  codes?: Record<string, number>;
  /** Requests that got no answer (errors, timeouts). */
  networkErrors?: number;
  /**
   * The tool's own share of failed requests, for a tool that reports no status counts (k6's
   * `http_req_failed`: status ≥ 400 or no answer). Used whatever statuses an error budget names.
   */
  failedShare?: number;
  /** Requests whose checks failed. */
  failedChecks?: number;
  /** Percentile (50, 99.9) → ms; percentiles the tool did not report stay undefined. */
  percentiles: Record<number, number | undefined>;
}

/** A route's figures from a summary. */
export class SummaryFigures implements RouteFigures {
  readonly count: number;
  readonly admitted: number;
  readonly failedCheckShare: number;
  readonly #counts: SummaryCounts;
  readonly #percentiles: Map<number, number>;

  constructor(counts: SummaryCounts) {
    this.#counts = counts;
    this.count = counts.count;
    this.admitted = counts.admitted ?? counts.count;
    this.failedCheckShare = counts.count > 0 ? (counts.failedChecks ?? 0) / counts.count : 0;
    this.#percentiles = new Map(
      Object.entries(counts.percentiles)
        .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
        .map(([p, v]) => [Number(p), v as number]),
    );
  }

  share(statuses: readonly StatusPattern[]): number {
    const { count, codes, networkErrors = 0, failedShare } = this.#counts;
    if (count === 0) return 0;
    if (!codes) return failedShare ?? networkErrors / count;
    let failed = networkErrors;
    for (const [code, n] of Object.entries(codes)) {
      if (statuses.some((pattern) => matchesStatus(pattern, Number(code)))) failed += n;
    }
    return failed / count;
  }

  percentileMs(p: number): number | undefined {
    return this.#percentiles.get(p);
  }
}

/** An imported run: per-route figures and the duration they cover. */
export interface ImportedRun {
  tool: 'k6' | 'autocannon';
  seconds: number;
  routes: Map<string, SummaryFigures>;
}
