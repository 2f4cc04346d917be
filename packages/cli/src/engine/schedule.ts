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
  let offset = 0;
  for (const [index, stage] of stages.entries()) {
    const seconds = stage.durationMs / 1000;
    const r0 = stage.rate;
    const r1 = stage.to ?? stage.rate;
    const slope = (r1 - r0) / seconds; // arrivals/s per second
    const total = Math.floor(((r0 + r1) / 2) * seconds + 1e-9);
    for (let n = 0; n < total; n++) {
      // Solve r0*t + slope*t²/2 = n for t ≥ 0.
      const t = Math.abs(slope) < 1e-12 ? n / r0 : (-r0 + Math.sqrt(r0 * r0 + 2 * slope * n)) / slope;
      yield { at: offset + t * 1000, stage: index };
    }
    offset += stage.durationMs;
  }
}

/** How many arrivals the stages make in all. */
export function arrivalCount(stages: readonly ArrivalStage[]): number {
  return stages.reduce(
    (sum, s) => sum + Math.floor((((s.rate + (s.to ?? s.rate)) / 2) * s.durationMs) / 1000 + 1e-9),
    0,
  );
}
