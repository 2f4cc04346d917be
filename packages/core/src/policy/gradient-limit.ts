// The estimate behind adaptiveLimit: how many calls may run at once, from the round-trip times of the calls that
// completed. The gradient of Netflix's concurrency-limits (Gradient2): compare the recent RTT with the long-term
// one; while they agree the limit grows by a small queue allowance, and as the recent RTT climbs above the
// tolerated multiple the limit shrinks in proportion (at most by half per window).

import { invalidOption } from '../errors/index.ts';
import { checkNumber, withDefaults } from '../shared/options.ts';

/** Options of `GradientLimit` (and of `adaptiveLimit`, which passes them on). */
export interface GradientLimitOptions {
  /** Calls allowed at once before anything is measured. @default 20 */
  initialLimit?: number;
  /** The limit never goes below this. @default 2 */
  minLimit?: number;
  /** The limit never goes above this. @default 1000 */
  maxLimit?: number;
  /**
   * How far above the long-term RTT the recent RTT may go before the limit shrinks: 2 means a doubling is
   * tolerated. @default 2
   */
  tolerance?: number;
  /** Share of each new estimate taken into the limit (the rest is the old limit). @default 0.2 */
  smoothing?: number;
  /** A window of samples lasts at least this many milliseconds... @default 100 */
  windowMs?: number;
  /** ...and holds at least this many samples. @default 10 */
  minSamples?: number;
  /** Windows the long-term RTT averages over (exponentially). @default 100 */
  longWindows?: number;
  /**
   * How busy the process was (0 to 1) since the previous call, read once per window: with it, the limit
   * shrinks only while the process is at least `saturatedAbove` busy. An RTT that climbs while the process
   * idles is a dependency's (a slow database), which that dependency's own bounds answer (pool wait, query
   * deadline); shrinking a front door for it would refuse the work that never touches it (cache hits).
   * `eventLoopSaturation()` reads Node's event-loop utilization. @default none: every RTT rise shrinks
   */
  saturation?: () => number;
  /** The share of busy time from which an RTT rise shrinks the limit (with `saturation`). @default 0.75 */
  saturatedAbove?: number;
}

const defaults = {
  initialLimit: 20,
  minLimit: 2,
  maxLimit: 1000,
  tolerance: 2,
  smoothing: 0.2,
  windowMs: 100,
  minSamples: 10,
  longWindows: 100,
  saturatedAbove: 0.75,
};

/** Windows averaged plainly before the long-term RTT becomes an exponential average. */
const WARMUP_WINDOWS = 4;

/**
 * The limit estimator; `sample()` each completed call with its RTT and the calls in flight when it started.
 *
 * @example
 * const estimate = new GradientLimit({ initialLimit: 10 });
 * estimate.sample(12, 10, clock.monotonic());
 * estimate.limit; // calls allowed at once now
 */
export class GradientLimit {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly #tolerance: number;
  readonly #smoothing: number;
  readonly #windowMs: number;
  readonly #minSamples: number;
  readonly #alpha: number;
  readonly #saturation: (() => number) | undefined;
  readonly #saturatedAbove: number;
  #estimate: number;
  #longRtt = 0;
  #recentRtt = 0;
  #windows = 0;
  // The window being filled.
  #windowStart = Number.NaN;
  #sum = 0;
  #count = 0;
  #maxInflight = 0;

  constructor(options: GradientLimitOptions = {}, owner = 'GradientLimit') {
    const o = withDefaults(defaults, options ?? {});
    this.minLimit = checkNumber(owner, 'minLimit', o.minLimit, { min: 1, integer: true });
    this.maxLimit = checkNumber(owner, 'maxLimit', o.maxLimit, { min: this.minLimit, integer: true });
    this.#estimate = checkNumber(owner, 'initialLimit', o.initialLimit, {
      min: this.minLimit,
      max: this.maxLimit,
      integer: true,
    });
    this.#tolerance = checkNumber(owner, 'tolerance', o.tolerance, { min: 1 });
    this.#smoothing = checkNumber(owner, 'smoothing', o.smoothing, { min: 0, above: true, max: 1 });
    this.#windowMs = checkNumber(owner, 'windowMs', o.windowMs, { min: 0 });
    this.#minSamples = checkNumber(owner, 'minSamples', o.minSamples, { min: 1, integer: true });
    this.#alpha = 2 / (checkNumber(owner, 'longWindows', o.longWindows, { min: 1, integer: true }) + 1);
    if (o.saturation !== undefined && typeof o.saturation !== 'function') {
      throw invalidOption(owner, 'saturation', 'a function returning 0 to 1', o.saturation);
    }
    this.#saturation = o.saturation;
    this.#saturatedAbove = checkNumber(owner, 'saturatedAbove', o.saturatedAbove, { min: 0, max: 1 });
  }

  /** Calls allowed at once now. */
  get limit(): number {
    return Math.floor(this.#estimate);
  }

  /** The long-term RTT in ms (0 until the first window closes). */
  get longRtt(): number {
    return this.#longRtt;
  }

  /** The mean RTT of the last window that closed, in ms (0 until one has). */
  get recentRtt(): number {
    return this.#recentRtt;
  }

  /** True once the long-term RTT rests on its warm-up windows, not on the first few calls. */
  get warm(): boolean {
    return this.#windows >= WARMUP_WINDOWS;
  }

  /**
   * Records one completed call: `rttMs` it took, `inflight` calls running when it started, at `nowMs`
   * (monotonic). True when the window closed and the limit was recomputed.
   */
  sample(rttMs: number, inflight: number, nowMs: number): boolean {
    if (Number.isNaN(this.#windowStart)) this.#windowStart = nowMs;
    this.#sum += rttMs;
    this.#count++;
    if (inflight > this.#maxInflight) this.#maxInflight = inflight;
    if (nowMs - this.#windowStart < this.#windowMs || this.#count < this.#minSamples) return false;
    const shortRtt = this.#sum / this.#count;
    const busy = this.#maxInflight;
    this.#windowStart = Number.NaN; // the next sample opens the next window
    this.#sum = 0;
    this.#count = 0;
    this.#maxInflight = 0;
    this.#update(shortRtt, busy);
    return true;
  }

  #update(shortRtt: number, busy: number): void {
    this.#windows++;
    this.#recentRtt = shortRtt;
    if (this.#windows <= WARMUP_WINDOWS) {
      this.#longRtt += (shortRtt - this.#longRtt) / this.#windows;
    } else {
      // A window past tolerance is overload, not a new normal: it moves the average a tenth as much, or a
      // sustained overload would teach the average its own latency and the limit would grow back into it.
      const overloaded = shortRtt > this.#tolerance * this.#longRtt;
      this.#longRtt += (overloaded ? this.#alpha / 10 : this.#alpha) * (shortRtt - this.#longRtt);
      // Much faster than the long-term average: the system got faster (or was measured while cold); let the
      // average come down quicker than its window would.
      if (this.#longRtt > 2 * shortRtt) this.#longRtt *= 0.95;
    }
    // Read every window, so that each reading covers one window.
    const saturated = this.#saturation === undefined || this.#saturation() >= this.#saturatedAbove;
    // Calls never came near the limit: the RTT says nothing about what more would do (the app is limited by
    // its own callers), so the limit does not grow on it.
    if (busy < this.#estimate / 2) return;
    const tolerated = this.#tolerance * this.#longRtt;
    // Slower calls while the process has time to spare: they wait on something else, so they neither shrink
    // the limit nor stop it growing to hold them.
    const gradient = shortRtt <= tolerated || !saturated ? 1 : Math.max(0.5, tolerated / shortRtt);
    const queue = Math.max(4, Math.sqrt(this.#estimate));
    const next = this.#estimate * gradient + queue;
    // Smoothed both ways, as Gradient2 does: under a flood of refusals the RTTs of admitted calls also carry the
    // event loop's contention, and a limit that dropped at once to its floor starved the database of work
    // (`npm run bench:overload`, one run each: 0.25 of capacity admitted that way, 0.30 and 0.33 smoothed).
    const smoothed = this.#estimate * (1 - this.#smoothing) + next * this.#smoothing;
    this.#estimate = Math.min(this.maxLimit, Math.max(this.minLimit, smoothed));
  }
}
