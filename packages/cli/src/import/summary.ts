// Figures imported from another tool's summary: percentiles as that tool reported them, no histograms.

import type { RouteFigures } from '../gate/judge.ts';

/** A route's figures from a summary; percentiles the tool did not report stay undefined. */
export class SummaryFigures implements RouteFigures {
  readonly count: number;
  readonly errorShare: number;
  readonly #percentiles: Map<number, number>;

  constructor(count: number, errorShare: number, percentiles: Record<number, number | undefined>) {
    this.count = count;
    this.errorShare = errorShare;
    this.#percentiles = new Map(
      Object.entries(percentiles)
        .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
        .map(([p, v]) => [Number(p), v as number]),
    );
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
