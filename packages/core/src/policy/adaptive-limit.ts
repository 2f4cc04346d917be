// adaptiveLimit: a bulkhead whose size is not guessed but measured. Each completed call's round-trip time feeds
// a gradient estimate (gradient-limit.ts); the fair queue (fair-queue.ts) is resized to it. Refusals are the
// bulkhead's (HR_BULKHEAD_FULL, HR_BULKHEAD_QUEUE_TIMEOUT), so every caller that handles a full bulkhead
// handles this one.

import { type Clock, systemClock } from '../clock/index.ts';
import { abortedError, type HeadroomError } from '../errors/index.ts';
import { untilAborted } from '../shared/abort.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkNumber } from '../shared/options.ts';
import { type BulkheadRejection, type BulkheadRejectReason, NO_KEY, refusal } from './bulkhead.ts';
import { FairQueue } from './fair-queue.ts';
import { GradientLimit, type GradientLimitOptions } from './gradient-limit.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';

/** Options of `adaptiveLimit`: the estimate's (see `GradientLimitOptions`) and the queue's. */
export interface AdaptiveLimitOptions extends GradientLimitOptions {
  /** Name shown in events, stats and metrics. @default 'adaptive-limit' */
  name?: string;
  /** Calls waiting for a slot at most; beyond it calls are refused at once. @default 0 */
  maxQueue?: number;
  /**
   * Milliseconds a waiter is expected to wait, at most: a call joins the queue only while the calls ahead of
   * it can be served within this, at the rate the limit and the RTT allow (Little's law: limit ÷ RTT per
   * ms). A burst of fast calls queues deep; under overload the queue stays about this short, and the rest is
   * refused at once instead of waiting to time out (CoDel's good queue, bad queue). @default 20
   */
  queueTarget?: number;
  /** Milliseconds a call may wait for a slot (a deadline: past it, its caller has given up). @default 100 */
  queueTimeout?: number;
  /** Time source of the RTTs and the queue deadline. @default systemClock() */
  clock?: Clock;
}

/** A new limit, as `onLimitChange` listeners receive it. */
export interface LimitChange {
  name: string;
  limit: number;
  previous: number;
  /** Long-term RTT the estimate compares with, in ms. */
  longRttMs: number;
}

/** Figures for an admin page and metrics. */
export interface AdaptiveLimitStats {
  name: string;
  limit: number;
  minLimit: number;
  maxLimit: number;
  inflight: number;
  queued: number;
  maxQueue: number;
  /** Waiters the queue takes now (see `queueAllowance`). */
  queueAllowance: number;
  longRttMs: number;
}

/** How a call held under a permit ended: `ok` feeds its RTT to the estimate, `ignore` does not (aborted). */
export type PermitOutcome = 'ok' | 'ignore';

/** A slot held outside `execute`; give it back with `release()` when the work ends. */
export class AdaptivePermit {
  readonly #owner: AdaptiveLimitPolicy;
  readonly #slot: string;
  readonly #started: number;
  readonly #inflight: number;
  #held = true;

  constructor(owner: AdaptiveLimitPolicy, slot: string, started: number, inflight: number) {
    this.#owner = owner;
    this.#slot = slot;
    this.#started = started;
    this.#inflight = inflight;
  }

  /** Frees the slot and, unless `ignore`, feeds the call's RTT to the estimate; later calls do nothing. */
  release(outcome: PermitOutcome = 'ok'): void {
    if (!this.#held) return;
    this.#held = false;
    this.#owner.settle(this.#slot, outcome === 'ok' ? this.#started : Number.NaN, this.#inflight);
  }
}

/**
 * The adaptive limit; create it with `adaptiveLimit(options)`.
 *
 * @example
 * const door = adaptiveLimit({ name: 'http', initialLimit: 32, maxQueue: 16 });
 * const permit = door.tryAcquire();
 * if (!permit) return refuse();
 * try { await handle(); } finally { permit.release(); }
 */
export class AdaptiveLimitPolicy extends PolicyBase {
  readonly name: string;
  readonly #clock: Clock;
  readonly #estimate: GradientLimit;
  readonly #slots: FairQueue;
  readonly #queueTarget: number;
  readonly #rejected = new Emitter<BulkheadRejection>();
  readonly #changed = new Emitter<LimitChange>();

  /** Subscribes to refused calls, with the reason. */
  readonly onReject: Subscribe<BulkheadRejection> = this.#rejected.subscribe;
  /** Subscribes to changes of the limit. */
  readonly onLimitChange: Subscribe<LimitChange> = this.#changed.subscribe;

  constructor(options: AdaptiveLimitOptions = {}) {
    super();
    const o = options ?? {};
    this.name = o.name ?? 'adaptive-limit';
    this.#clock = checkClock('adaptiveLimit', o.clock ?? systemClock());
    this.#estimate = new GradientLimit(o, 'adaptiveLimit');
    this.#queueTarget = checkNumber('adaptiveLimit', 'queueTarget', o.queueTarget ?? 20, { infinite: true });
    this.#slots = new FairQueue(
      {
        maxConcurrent: this.#estimate.limit,
        maxQueue: checkNumber('adaptiveLimit', 'maxQueue', o.maxQueue ?? 0, {
          integer: true,
          infinite: true,
        }),
        queueTimeout: checkNumber('adaptiveLimit', 'queueTimeout', o.queueTimeout ?? 100, { infinite: true }),
        clock: this.#clock,
      },
      (slot, reason) => this.#reject(slot, reason),
      'adaptiveLimit',
    );
  }

  /** Calls allowed at once now. */
  get limit(): number {
    return this.#slots.maxConcurrent;
  }

  /** Calls running now. */
  get inflight(): number {
    return this.#slots.inflight;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#slots.queued;
  }

  /**
   * Waiters the queue takes now: those the slots can serve within `queueTarget` at the RTT measured (the
   * long-term one, or the last window's when slower), capped by `maxQueue`; until the long-term RTT is known
   * (its warm-up windows), `maxQueue`. A burst of fast calls queues deep; once an overload shows in the RTTs
   * the queue shortens with them, so a waiter waits about `queueTarget`.
   */
  get queueAllowance(): number {
    const e = this.#estimate;
    const rtt = e.warm ? Math.max(e.longRtt, e.recentRtt) : 0;
    const servable =
      rtt > 0 ? Math.floor((this.#slots.maxConcurrent * this.#queueTarget) / rtt) : Number.POSITIVE_INFINITY;
    return Math.min(this.#slots.maxQueue, Math.max(1, servable));
  }

  /** A slot now when one is free, else undefined (nothing waits, nothing is refused or counted). */
  tryAcquire(key?: string): AdaptivePermit | undefined {
    const slot = key ?? NO_KEY;
    if (!this.#slots.tryTake(slot)) return undefined;
    return new AdaptivePermit(this, slot, this.#clock.monotonic(), this.#slots.inflight);
  }

  /**
   * A slot, waiting in the fair queue up to the queue timeout; rejects with HR_BULKHEAD_FULL or
   * HR_BULKHEAD_QUEUE_TIMEOUT, or HR_ABORTED when `signal` aborts while waiting.
   */
  async acquire(key?: string, signal?: AbortSignal): Promise<AdaptivePermit> {
    const slot = key ?? NO_KEY;
    const queued = this.#slots.queued;
    if (queued > 0 && queued >= this.queueAllowance && this.#slots.inflight >= this.#slots.maxConcurrent) {
      throw this.#reject(slot, 'full');
    }
    await this.#slots.take(slot, signal);
    return new AdaptivePermit(this, slot, this.#clock.monotonic(), this.#slots.inflight);
  }

  /** @internal Called by a permit: frees its slot and samples its RTT (`started` NaN: no sample). */
  settle(slot: string, started: number, inflight: number): void {
    this.#slots.release(slot);
    if (Number.isNaN(started)) return;
    const now = this.#clock.monotonic();
    if (!this.#estimate.sample(now - started, inflight, now)) return;
    const limit = this.#estimate.limit;
    const previous = this.#slots.maxConcurrent;
    if (limit === previous) return;
    this.#slots.resize(limit);
    if (this.#changed.active) {
      this.#changed.emit({ name: this.name, limit, previous, longRttMs: this.#estimate.longRtt });
    }
  }

  stats(): AdaptiveLimitStats {
    return {
      name: this.name,
      limit: this.#slots.maxConcurrent,
      minLimit: this.#estimate.minLimit,
      maxLimit: this.#estimate.maxLimit,
      inflight: this.#slots.inflight,
      queued: this.#slots.queued,
      maxQueue: this.#slots.maxQueue,
      queueAllowance: this.queueAllowance,
      longRttMs: this.#estimate.longRtt,
    };
  }

  async [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T> {
    if (signal?.aborted) throw abortedError(signal);
    const permit = this.tryAcquire(key) ?? (await this.acquire(key, signal));
    let outcome: PermitOutcome = 'ok';
    try {
      const work = next(fn, signal, key, attempt, chain, depth);
      return signal ? await untilAborted(work, signal) : await work;
    } catch (error) {
      if (signal?.aborted) outcome = 'ignore'; // the caller left: how long it had run says nothing
      throw error;
    } finally {
      permit.release(outcome);
    }
  }

  #reject(slot: string, reason: BulkheadRejectReason): HeadroomError {
    return refusal(`adaptive limit "${this.name}"`, this.name, this.#slots, this.#rejected, slot, reason);
  }
}

/**
 * Runs at most `limit` calls at once, where the limit follows the calls' round-trip times: it grows while they
 * stay near their long-term average and shrinks as they climb past `tolerance` times it, so a service keeps
 * admitting about what it can serve in time and refuses the rest at once (HR_BULKHEAD_FULL), instead of
 * queueing everything until nothing finishes in time. Calls wait while the queue can be served within
 * `queueTarget` (up to `maxQueue` of them), each at most `queueTimeout`.
 * Keys (tenants) share slots fairly, as in `bulkhead`.
 *
 * @example
 * const door = adaptiveLimit({ name: 'http', initialLimit: 32, maxQueue: 1024, queueTarget: 20, queueTimeout: 100 });
 * await door.execute(() => handle(request), { signal: request.signal });
 */
export function adaptiveLimit(options: AdaptiveLimitOptions = {}): AdaptiveLimitPolicy {
  return new AdaptiveLimitPolicy(options);
}
