// Sliding windows of a route's service-level indicators, in process: per one-second slot, how many requests,
// how many failed, and how many took longer than each threshold the window watches. A latency percentile is
// within its budget exactly when the share of requests slower than the budget is at most 1 - percentile (p95 ≤
// 150 ms ⟺ at most 5% took longer than 150 ms), so counting past thresholds judges it without a histogram.

import type { Clock } from '../clock/index.ts';

/** What a window holds over a span of time. */
export interface SliReading {
  /** Requests seen. */
  total: number;
  /** Requests that failed (what the caller called a failure: 5xx, no answer). */
  failed: number;
  /** Per watched threshold (same order as given), requests that took longer. */
  over: number[];
}

interface Slot {
  /** Which second (monotonic) this slot holds; -1 when empty. */
  second: number;
  total: number;
  failed: number;
  over: Float64Array;
}

/**
 * One route's ring of one-second slots, `seconds` long, counting past `thresholds` (ms).
 *
 * @example
 * const window = new SliWindow([150, 120], 120, clock);
 * window.observe(183, false);
 * const { total, over } = window.read(30_000); // share over 150 ms: over[0] / total
 */
export class SliWindow {
  readonly thresholds: readonly number[];
  readonly #slots: Slot[];
  readonly #clock: Clock;

  constructor(thresholds: readonly number[], seconds: number, clock: Clock) {
    this.thresholds = [...thresholds];
    this.#clock = clock;
    this.#slots = Array.from({ length: Math.max(1, Math.ceil(seconds)) + 1 }, () => ({
      second: -1,
      total: 0,
      failed: 0,
      over: new Float64Array(thresholds.length),
    }));
  }

  /** Counts one request that took `ms`, failed or not. */
  observe(ms: number, failed: boolean): void {
    const second = Math.floor(this.#clock.monotonic() / 1000);
    const slot = this.#slots[second % this.#slots.length]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.total = 0;
      slot.failed = 0;
      slot.over.fill(0);
    }
    slot.total++;
    if (failed) slot.failed++;
    const thresholds = this.thresholds;
    for (let i = 0; i < thresholds.length; i++) if (ms > thresholds[i]!) slot.over[i]!++;
  }

  /** What the last `windowMs` held (whole seconds, the current one included). */
  read(windowMs: number): SliReading {
    const now = Math.floor(this.#clock.monotonic() / 1000);
    const span = Math.min(this.#slots.length - 1, Math.max(1, Math.ceil(windowMs / 1000)));
    const reading: SliReading = { total: 0, failed: 0, over: new Array(this.thresholds.length).fill(0) };
    for (const slot of this.#slots) {
      if (slot.second < 0 || slot.second > now || slot.second <= now - span) continue;
      reading.total += slot.total;
      reading.failed += slot.failed;
      for (let i = 0; i < reading.over.length; i++) reading.over[i] = reading.over[i]! + slot.over[i]!;
    }
    return reading;
  }
}
