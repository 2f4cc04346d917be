// hedge: when a call is slower than usual, start a second one and take whichever answers first; the loser
// is aborted through its signal.

import { type Clock, systemClock, type Timer } from '../clock/index.ts';
import { abortedError, commonErrors, invalidOption } from '../errors/index.ts';
import { SignalLink } from '../shared/abort.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkNumber } from '../shared/options.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';

/** A delay that follows the observed latency: the given percentile of recent successful calls. */
export interface AdaptiveDelay {
  /** Percentile of recent latencies, e.g. 95. */
  percentile: number;
  /** Delay used until `samples / 10` calls have been seen, and the lower bound after. @default 10 */
  min?: number;
  /** Upper bound. @default Infinity */
  max?: number;
  /** Recent latencies kept. @default 1000 */
  samples?: number;
}

/** Options of `hedge`. */
export interface HedgeOptions {
  /** Milliseconds before a hedged attempt starts, fixed or following the observed latency. */
  delay: number | AdaptiveDelay;
  /** Extra attempts at most, each `delay` after the previous one. @default 1 */
  maxHedges?: number;
  /** Time source. @default systemClock() */
  clock?: Clock;
}

/** Emitted when a hedged attempt starts. */
export interface HedgeEvent {
  /** 1 for the first hedge. */
  hedge: number;
  delay: number;
}

// Latencies of recent successes in a ring; the percentile is recomputed every `stride` records.
class LatencyRing {
  readonly #ring: Float64Array;
  readonly #percentile: number;
  readonly #stride: number;
  #count = 0;
  #cached: number | undefined;

  constructor(size: number, percentile: number) {
    this.#ring = new Float64Array(size);
    this.#percentile = percentile;
    this.#stride = Math.max(1, Math.floor(size / 10));
  }

  record(ms: number): void {
    this.#ring[this.#count % this.#ring.length] = ms;
    this.#count++;
    if (this.#count % this.#stride === 0) this.#cached = this.#compute();
  }

  /** The percentile, once a tenth of the ring has filled; undefined before. */
  get value(): number | undefined {
    return this.#cached;
  }

  #compute(): number {
    const n = Math.min(this.#count, this.#ring.length);
    const sorted = this.#ring.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.ceil((this.#percentile / 100) * n) - 1)]!;
  }
}

const hedgeLost = () => commonErrors.create('HR_ABORTED', 'another hedged attempt answered first');

/**
 * The hedge policy; create it with `hedge(options)`.
 *
 * @example
 * const policy = hedge({ delay: { percentile: 95, min: 5, max: 500 } });
 */
export class HedgePolicy extends PolicyBase {
  readonly #fixed: number | undefined;
  readonly #adaptive: { ring: LatencyRing; min: number; max: number } | undefined;
  readonly #maxHedges: number;
  readonly #clock: Clock;
  readonly #hedged = new Emitter<HedgeEvent>();

  /** Subscribes to hedged attempts as they start. */
  readonly onHedge: Subscribe<HedgeEvent> = this.#hedged.subscribe;

  constructor(options: HedgeOptions) {
    super();
    const { delay, maxHedges = 1, clock = systemClock() } = options ?? ({} as HedgeOptions);
    if (typeof delay === 'number') {
      this.#fixed = checkNumber('hedge', 'delay', delay);
    } else if (delay && typeof delay === 'object') {
      const percentile = checkNumber('hedge', 'delay.percentile', delay.percentile, {
        min: 0,
        above: true,
        max: 100,
      });
      const samples = checkNumber('hedge', 'delay.samples', delay.samples ?? 1000, {
        min: 10,
        integer: true,
      });
      this.#adaptive = {
        ring: new LatencyRing(samples, percentile),
        min: checkNumber('hedge', 'delay.min', delay.min ?? 10),
        max: checkNumber('hedge', 'delay.max', delay.max ?? Number.POSITIVE_INFINITY, { infinite: true }),
      };
    } else {
      throw invalidOption('hedge', 'delay', 'milliseconds or { percentile }', delay);
    }
    this.#maxHedges = checkNumber('hedge', 'maxHedges', maxHedges, { min: 1, integer: true });
    this.#clock = checkClock('hedge', clock);
  }

  /** Milliseconds the next call waits before hedging. */
  get delay(): number {
    if (this.#fixed !== undefined) return this.#fixed;
    const { ring, min, max } = this.#adaptive!;
    return Math.min(max, Math.max(min, ring.value ?? min));
  }

  [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const delay = this.delay;
    const attempts: { controller: AbortController; link: SignalLink | undefined }[] = [];
    let failures = 0;
    let settled = false;
    let timer: Timer | undefined;

    const finish = () => {
      settled = true;
      timer?.cancel();
      signal?.removeEventListener('abort', onAbort);
      for (const a of attempts) a.link?.unfollow();
    };
    const onAbort = () => {
      if (settled) return;
      finish();
      for (const a of attempts) a.controller.abort(signal!.reason);
      reject(abortedError(signal!));
    };
    const launch = () => {
      timer = undefined;
      if (settled) return;
      const index = attempts.length;
      if (index > 0 && this.#hedged.active) this.#hedged.emit({ hedge: index, delay });
      const controller = new AbortController();
      attempts.push({ controller, link: signal ? new SignalLink(signal, controller) : undefined });
      if (index < this.#maxHedges) timer = this.#clock.setTimeout(launch, delay);
      const started = this.#clock.monotonic();
      Promise.resolve()
        .then(() => next(fn, controller.signal, key, attempt, chain, depth))
        .then(
          (value) => {
            if (settled) return;
            finish();
            this.#adaptive?.ring.record(this.#clock.monotonic() - started);
            for (const other of attempts)
              if (other.controller !== controller) other.controller.abort(hedgeLost());
            resolve(value);
          },
          (error: unknown) => {
            if (settled) return;
            failures++;
            if (failures === this.#maxHedges + 1) {
              finish();
              reject(error);
            } else if (failures === attempts.length) {
              // Every attempt so far failed: hedge now rather than wait out the delay.
              timer?.cancel();
              launch();
            }
          },
        );
    };
    signal?.addEventListener('abort', onAbort);
    launch();
    return promise;
  }
}

/**
 * Starts another attempt when the call has not answered after `delay` ms (fixed, or a percentile of recent
 * latencies such as the p95), up to `maxHedges` extra attempts; the first success wins and the others are
 * aborted through their signals. A failed attempt triggers the next hedge at once; the call fails only
 * when every attempt failed. Hedge only idempotent calls.
 *
 * @example
 * const reads = hedge({ delay: { percentile: 95, min: 2, max: 200 } });
 * const row = await reads.execute(({ signal }) => replica.query(sql, { signal }));
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  return new HedgePolicy(options);
}
