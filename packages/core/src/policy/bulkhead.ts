// bulkhead: at most N calls at once, a bounded queue with a timeout, and a fair share between keys (tenants),
// as a policy (`execute`, `wrap`) and as permits for work that is not a function call. The fairness itself
// (who gets a freed slot, whom a full queue evicts) lives in fair-queue.ts.

import type { Clock } from '../clock/index.ts';
import { abortedError, type HeadroomError } from '../errors/index.ts';
import { untilAborted } from '../shared/abort.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { policyErrors } from './errors.ts';
import { FairQueue, type FairQueueRefusal } from './fair-queue.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';

/** Options of `bulkhead`. */
export interface BulkheadOptions {
  /** Name shown in events, stats and metrics. @default 'bulkhead' */
  name?: string;
  /** Calls running at once. */
  maxConcurrent: number;
  /** Calls waiting for a slot; beyond it calls are refused at once with HR_BULKHEAD_FULL. @default 0 */
  maxQueue?: number;
  /** Milliseconds a call may wait for a slot before HR_BULKHEAD_QUEUE_TIMEOUT. @default Infinity */
  queueTimeout?: number;
  /** Slots one key (tenant) may hold at once, however idle the rest is. @default maxConcurrent */
  maxPerKey?: number;
  /** Time source. @default systemClock() */
  clock?: Clock;
}

/** Why a call was refused. `evicted`: it waited, and a key with fewer places in the queue took its place. */
export type BulkheadRejectReason = FairQueueRefusal;

/** A refused call, as `onReject` listeners receive it. */
export interface BulkheadRejection {
  bulkhead: string;
  key: string | undefined;
  reason: BulkheadRejectReason;
}

/** Figures for an admin page and metrics. */
export interface BulkheadStats {
  name: string;
  inflight: number;
  queued: number;
  maxConcurrent: number;
  maxQueue: number;
  /** Running and queued calls of each key that has any. */
  keys: Record<string, { inflight: number; queued: number }>;
}

/** The slot of calls without a key. */
export const NO_KEY = '';

/** A slot held outside `execute` (see `tryAcquire` / `acquire`); give it back with `release()`. */
export class BulkheadPermit {
  readonly #release: (slot: string) => void;
  readonly #slot: string;
  #held = true;

  constructor(release: (slot: string) => void, slot: string) {
    this.#release = release;
    this.#slot = slot;
  }

  /** Frees the slot; calls after the first do nothing. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#release(this.#slot);
  }
}

/**
 * The bulkhead policy; create it with `bulkhead(options)`.
 *
 * @example
 * const search = bulkhead({ name: 'search', maxConcurrent: 16, maxQueue: 64, queueTimeout: 250 });
 * await search.execute(() => db.query(sql), { signal, key: tenantId });
 */
export class BulkheadPolicy extends PolicyBase {
  readonly name: string;
  readonly #slots: FairQueue;
  readonly #rejected = new Emitter<BulkheadRejection>();
  readonly #releaseSlot = (slot: string) => this.#slots.release(slot);

  /** Subscribes to refused calls, with the reason. */
  readonly onReject: Subscribe<BulkheadRejection> = this.#rejected.subscribe;

  constructor(options: BulkheadOptions) {
    super();
    this.name = options?.name ?? 'bulkhead';
    this.#slots = new FairQueue(options, (slot, reason) => this.#reject(slot, reason), 'bulkhead');
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
   * A slot for `key` now, when `execute` would run at once, else undefined (no waiting, nothing refused or
   * counted). For work that is not a function call, such as a framework's handler: `release()` the permit
   * when the work ends, whatever the outcome.
   *
   * @example
   * const permit = search.tryAcquire(tenant) ?? (await search.acquire(tenant, signal));
   * try { return await handle(request); } finally { permit.release(); }
   */
  tryAcquire(key?: string): BulkheadPermit | undefined {
    const slot = key ?? NO_KEY;
    return this.#slots.tryTake(slot) ? new BulkheadPermit(this.#releaseSlot, slot) : undefined;
  }

  /**
   * A slot for `key`, waiting as `execute` does: in the fair queue, up to the queue timeout; rejects with
   * HR_BULKHEAD_FULL or HR_BULKHEAD_QUEUE_TIMEOUT, or HR_ABORTED when `signal` aborts while waiting.
   *
   * @example
   * const permit = await exports.acquire(tenant, request.signal);
   */
  async acquire(key?: string, signal?: AbortSignal): Promise<BulkheadPermit> {
    const slot = key ?? NO_KEY;
    await this.#slots.take(slot, signal);
    return new BulkheadPermit(this.#releaseSlot, slot);
  }

  stats(): BulkheadStats {
    const { inflight, queued, keys } = this.#slots.stats();
    return {
      name: this.name,
      inflight,
      queued,
      maxConcurrent: this.#slots.maxConcurrent,
      maxQueue: this.#slots.maxQueue,
      keys,
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
    const slot = key ?? NO_KEY;
    if (!this.#slots.tryTake(slot)) await this.#slots.take(slot, signal); // resolves holding a slot
    try {
      const work = next(fn, signal, key, attempt, chain, depth);
      // A client that goes away frees its slot at once; the function was told through the same signal.
      return signal ? await untilAborted(work, signal) : await work;
    } finally {
      this.#slots.release(slot);
    }
  }

  #reject(slot: string, reason: BulkheadRejectReason): HeadroomError {
    return refusal(`bulkhead "${this.name}"`, this.name, this.#slots, this.#rejected, slot, reason);
  }
}

/**
 * The error (and the `onReject` event) of a refused take of `slots`, shared by the bulkhead and the adaptive
 * limit: HR_BULKHEAD_QUEUE_TIMEOUT after waiting, HR_BULKHEAD_FULL otherwise.
 */
export function refusal(
  label: string,
  name: string,
  slots: FairQueue,
  rejected: Emitter<BulkheadRejection>,
  slot: string,
  reason: BulkheadRejectReason,
): HeadroomError {
  const key = slot === NO_KEY ? undefined : slot;
  if (rejected.active) rejected.emit({ bulkhead: name, key, reason });
  const timedOut = reason === 'queue-timeout';
  return policyErrors.create(
    timedOut ? 'HR_BULKHEAD_QUEUE_TIMEOUT' : 'HR_BULKHEAD_FULL',
    timedOut
      ? `${label}: no slot within ${slots.queueTimeout} ms`
      : `${label} is full (${slots.maxConcurrent} running, ${slots.queued} queued)`,
    { context: { bulkhead: name, reason, ...(key === undefined ? {} : { key }) } },
  );
}

/**
 * Runs at most `maxConcurrent` calls at once; up to `maxQueue` more wait (at most `queueTimeout` ms), the
 * rest are refused at once with HR_BULKHEAD_FULL (`isBulkheadRejectedError`), so nothing queues without
 * bound. Calls carry a key (the tenant): a freed slot goes to the waiting key that runs the fewest calls
 * (round-robin among equals), `maxPerKey`
 * caps what one key holds, and a full queue evicts the newest waiter of the key with the most places, so
 * one tenant's flood cannot starve another. A slot is freed on success, on error, and when the caller's
 * signal aborts.
 *
 * @example
 * const exports = bulkhead({ name: 'exports', maxConcurrent: 4, maxQueue: 16, queueTimeout: 1_000, maxPerKey: 2 });
 * await exports.execute(({ signal }) => renderExport(id, signal), { signal: request.signal, key: tenant });
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
