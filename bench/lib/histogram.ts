// HDR latency histograms for the benches that time work themselves (job start, webhook delivery): microseconds
// in, milliseconds out. Load itself goes through the `headroom` engine (bench/lib/load.ts).

import * as hdr from 'hdr-histogram-js';

/** An empty µs latency histogram (1 µs to 120 s, 3 digits). */
export const histogram = (): hdr.Histogram =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });

/** Milliseconds at percentile `p` of a µs histogram (never above its largest sample); NaN when empty. */
export const percentileMs = (h: hdr.Histogram | undefined, p: number): number =>
  !h || h.totalCount === 0 ? Number.NaN : Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000;
