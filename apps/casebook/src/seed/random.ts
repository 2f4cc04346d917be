// Seeded randomness for datasets that must come out identical on every machine (pure-rand's xoroshiro128+).

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** Choices with relative weights, e.g. `[['open', 4], ['closed', 1]]`. */
export type Weighted<T> = readonly (readonly [T, number])[];

/**
 * A deterministic random source. Streams of one seed are 2^64 draws apart (xoroshiro's jump), so each table
 * of a dataset can draw from its own stream: generating more comments never changes the events.
 *
 * @example
 * const random = new Random(1);
 * random.int(1, 6); // the same sequence for seed 1, everywhere
 * const events = new Random(1, 7); // an independent stream of the same seed
 */
export class Random {
  readonly #rng;

  constructor(seed: number, stream = 0) {
    // xoroshiro128plus keeps 32 bits of the seed: larger seeds would silently collide.
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff)
      throw new Error(`seed must be an integer from 0 to 4294967295, got ${seed}`);
    this.#rng = xoroshiro128plus(seed | 0);
    // One jump more than the stream number: neighbouring seeds start from well-mixed states too.
    for (let i = 0; i <= stream; i++) this.#rng.jump();
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return uniformInt(this.#rng, min, max);
  }

  /** A float in [0, 1). */
  float(): number {
    return uniformFloat64(this.#rng);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One item, each equally likely. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  /** One item by relative weight: `weighted([['open', 4], ['closed', 1]])` is 'open' four times in five. */
  weighted<T>(items: Weighted<T>): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.float() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items.at(-1)![0];
  }

  /** A lowercase hex string of `digits` digits (at most 8), for device ids and references. */
  hex(digits: number): string {
    return this.int(0, 16 ** digits - 1)
      .toString(16)
      .padStart(digits, '0');
  }
}
