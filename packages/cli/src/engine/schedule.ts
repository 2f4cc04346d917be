// Open-model arrivals: when each iteration is meant to start, whatever happens to the ones before it.

/** A stage of an open-model run: `rate` arrivals/s, ramping linearly to `to` when given. */
export interface ArrivalStage {
  name: string;
  durationMs: number;
  rate: number;
  to?: number;
}

/** One intended start: milliseconds from the run's start, and the stage it belongs to. */
export interface Arrival {
  at: number;
  stage: number;
}

/**
 * Intended start times of every arrival, stage after stage. For a ramp from r0 to r1 over T, the n-th
 * arrival is at the t where the integral of the rate reaches n (a quadratic), so the rate is exact at
 * every instant, not stepped.
 *
 * @example
 * [...arrivals([{ name: 'steady', durationMs: 1000, rate: 4 }])].map((a) => a.at) // [0, 250, 500, 750]
 */
export function* arrivals(stages: readonly ArrivalStage[]): Generator<Arrival> {
  const cursor = new ArrivalCursor(stages);
  while (cursor.next()) yield { at: cursor.at, stage: cursor.stage };
}

/**
 * The arrivals of `arrivals()` one at a time with no object per arrival, for the generator's hot loop.
 *
 * @example
 * const cursor = new ArrivalCursor(stages);
 * while (cursor.next()) console.log(cursor.index, cursor.at, cursor.stage);
 */
export class ArrivalCursor {
  /** Intended start of the current arrival, ms from the first stage's start. */
  at = Number.NaN;
  /** Stage of the current arrival. */
  stage = -1;
  /** Number of the current arrival over all stages, from 0. */
  index = -1;
  readonly #stages: readonly ArrivalStage[];
  #n = 0;
  #total = 0;
  #offset = 0;
  #r0 = 0;
  #slope = 0;

  constructor(stages: readonly ArrivalStage[]) {
    this.#stages = stages;
  }

  /** Moves to the next arrival; false when there is none. */
  next(): boolean {
    while (this.#n >= this.#total) {
      if (this.stage >= this.#stages.length) return false;
      if (this.stage >= 0) this.#offset += this.#stages[this.stage]!.durationMs;
      const stage = this.#stages[++this.stage];
      if (!stage) {
        this.at = Number.NaN;
        this.stage = this.#stages.length;
        return false;
      }
      const seconds = stage.durationMs / 1000;
      const r1 = stage.to ?? stage.rate;
      this.#r0 = stage.rate;
      this.#slope = (r1 - stage.rate) / seconds; // arrivals/s per second
      this.#total = Math.floor(((stage.rate + r1) / 2) * seconds + 1e-9);
      this.#n = 0;
    }
    const n = this.#n++;
    const r0 = this.#r0;
    const slope = this.#slope;
    // Solve r0*t + slope*t²/2 = n for t ≥ 0.
    const t = Math.abs(slope) < 1e-12 ? n / r0 : (-r0 + Math.sqrt(r0 * r0 + 2 * slope * n)) / slope;
    this.at = this.#offset + t * 1000;
    this.index++;
    return true;
  }
}

/** How many arrivals the stages make in all. */
export function arrivalCount(stages: readonly ArrivalStage[]): number {
  return stages.reduce(
    (sum, s) => sum + Math.floor((((s.rate + (s.to ?? s.rate)) / 2) * s.durationMs) / 1000 + 1e-9),
    0,
  );
}
