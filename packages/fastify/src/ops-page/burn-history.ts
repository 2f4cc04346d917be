// How fast each objective is burning its error budget right now, not only since the process started: the page
// samples every objective's answer and failure counts on a timer and keeps an hour of samples, so the burn rate
// over the last 5 minutes and the last hour (the short and long windows of the SRE workbook's multi-window burn
// alerts, which `headroom gen` writes as Prometheus rules) can be read at any moment. In memory: a sample every
// `every` ms per objective, at most `keep / every` + 1 of them.

/** The counts an objective had at one moment (cumulative since the process started). */
export interface BurnSample {
  at: number;
  requests: number;
  failed: number;
}

/** The windows the page shows, in ms. */
export const burnWindows = [5 * 60_000, 60 * 60_000] as const;

/** A burn rate over one window; null when no answer came within it (or the window is not covered yet). */
export interface WindowBurn {
  window_s: number;
  /** Seconds the samples really cover: less than `window_s` while the process is younger than the window. */
  covered_s: number;
  requests: number;
  failed: number;
  /** The failed share over the window ÷ the error budget; 1 burns the budget exactly over its period. */
  burn_rate: number | null;
}

/**
 * Samples per objective, oldest first.
 *
 * @example
 * const history = new BurnHistory();
 * history.record(clock.now(), [{ name: 'search', requests: 1200, failed: 3 }]);
 * history.burn('search', { at: clock.now(), requests: 1500, failed: 9 }, 0.001);
 */
export class BurnHistory {
  readonly #keep: number;
  readonly #samples = new Map<string, BurnSample[]>();

  /** `keep`: how far back samples are kept (ms); the longest window. */
  constructor(keep: number = Math.max(...burnWindows)) {
    this.#keep = keep;
  }

  /** Adds a sample of each objective; samples older than `keep` (but the one just before it) are dropped. */
  record(at: number, rows: readonly { name: string; requests: number; failed: number }[]): void {
    for (const { name, requests, failed } of rows) {
      let samples = this.#samples.get(name);
      if (samples === undefined) {
        samples = [];
        this.#samples.set(name, samples);
      }
      samples.push({ at, requests, failed });
      // Keep one sample at or before the cut, so that a full window always has its start.
      while (samples.length > 2 && samples[1]!.at <= at - this.#keep) samples.shift();
    }
  }

  /**
   * The burn rate of `name` over each of `windows`, from the sample at or just before each window's start (the
   * oldest one while the process is younger) to `now`.
   */
  burn(
    name: string,
    now: BurnSample,
    budget: number | undefined,
    windows: readonly number[] = burnWindows,
  ): WindowBurn[] {
    const samples = this.#samples.get(name) ?? [];
    return windows.map((window) => {
      const from = startOf(samples, now.at - window);
      const requests = from === undefined ? 0 : now.requests - from.requests;
      const failed = from === undefined ? 0 : now.failed - from.failed;
      return {
        window_s: window / 1000,
        covered_s: from === undefined ? 0 : (now.at - from.at) / 1000,
        requests,
        failed,
        burn_rate: requests > 0 && budget ? failed / requests / budget : null,
      };
    });
  }
}

// The latest sample at or before `cut`, or the oldest one when none is that old.
function startOf(samples: readonly BurnSample[], cut: number): BurnSample | undefined {
  let found = samples[0];
  for (const sample of samples) {
    if (sample.at > cut) break;
    found = sample;
  }
  return found;
}
