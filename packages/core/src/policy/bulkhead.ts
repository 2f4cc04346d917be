// bulkhead: at most N calls at once, a bounded queue with a timeout, and a fair share between keys (tenants):
// freed slots go to the waiting key that runs the fewest calls (round-robin among equals), and a full queue makes room by evicting from the key
// that holds the most places in it.

import { type Clock, systemClock, type Timer } from '../clock/index.ts';
import { HeadroomError } from '../errors/index.ts';
import { abortedError, policyErrorCodes } from './errors.ts';
import { Emitter, type Subscribe } from './events.ts';
import { checkClock, checkNumber, withDefaults } from './options.ts';
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
export type BulkheadRejectReason = 'full' | 'queue-timeout' | 'evicted';

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

const defaultOptions = { name: 'bulkhead', maxQueue: 0, queueTimeout: Number.POSITIVE_INFINITY };
const NO_KEY = '';

class Waiter {
  readonly key: string;
  readonly signal: AbortSignal | undefined;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;
  timer: Timer | undefined;
  onAbort: (() => void) | undefined;

  constructor(key: string, signal: AbortSignal | undefined) {
    this.key = key;
    this.signal = signal;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  settle(): void {
    this.timer?.cancel();
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
  }
}

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
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #queueTimeout: number;
  readonly #maxPerKey: number;
  readonly #clock: Clock;
  readonly #rejected = new Emitter<BulkheadRejection>();
  #inflight = 0;
  #queued = 0;
  readonly #running = new Map<string, number>();
  // Waiting calls per key; Map order is the round-robin order (a served key moves to the back).
  readonly #queues = new Map<string, Waiter[]>();
  readonly #releaseSlot = (slot: string) => this.#release(slot);

  /** Subscribes to refused calls, with the reason. */
  readonly onReject: Subscribe<BulkheadRejection> = this.#rejected.subscribe;

  constructor(options: BulkheadOptions) {
    super();
    const o = withDefaults(defaultOptions, options ?? ({} as BulkheadOptions));
    this.name = o.name;
    this.#max = checkNumber('bulkhead', 'maxConcurrent', o.maxConcurrent, { min: 1, integer: true });
    this.#maxQueue = checkNumber('bulkhead', 'maxQueue', o.maxQueue, { integer: true, infinite: true });
    this.#queueTimeout = checkNumber('bulkhead', 'queueTimeout', o.queueTimeout, { infinite: true });
    this.#maxPerKey = checkNumber('bulkhead', 'maxPerKey', o.maxPerKey ?? this.#max, {
      min: 1,
      max: this.#max,
      integer: true,
    });
    this.#clock = checkClock('bulkhead', o.clock ?? systemClock());
  }

  /** Calls running now. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#queued;
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
    if (!this.#canRun(slot)) return undefined;
    this.#take(slot);
    return new BulkheadPermit(this.#releaseSlot, slot);
  }

  /**
   * A slot for `key`, waiting as `execute` does: in the fair queue, up to the queue timeout; rejects with
   * HR_BULKHEAD_FULL or HR_BULKHEAD_QUEUE_TIMEOUT, or HR_ABORTED when `signal` aborts while waiting.
   *
   * @example
   * const permit = await exports.acquire(tenant, request.signal);
   */
  async acquire(key?: string, signal?: AbortSignal): Promise<BulkheadPermit> {
    if (signal?.aborted) throw abortedError(signal);
    const slot = key ?? NO_KEY;
    if (this.#canRun(slot)) this.#take(slot);
    else await this.#wait(slot, key, signal); // resolves holding a slot
    return new BulkheadPermit(this.#releaseSlot, slot);
  }

  stats(): BulkheadStats {
    const keys: BulkheadStats['keys'] = {};
    for (const [key, n] of this.#running) keys[key] = { inflight: n, queued: 0 };
    for (const [key, queue] of this.#queues) {
      keys[key] = { inflight: this.#running.get(key) ?? 0, queued: queue.length };
    }
    return {
      name: this.name,
      inflight: this.#inflight,
      queued: this.#queued,
      maxConcurrent: this.#max,
      maxQueue: this.#maxQueue,
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
    if (this.#canRun(slot)) this.#take(slot);
    else await this.#wait(slot, key, signal); // resolves holding a slot
    try {
      const work = next(fn, signal, key, attempt, chain, depth);
      // A client that goes away frees its slot at once; the function was told through the same signal.
      return signal ? await untilAborted(work, signal) : await work;
    } finally {
      this.#release(slot);
    }
  }

  #canRun(slot: string): boolean {
    return this.#inflight < this.#max && (this.#running.get(slot) ?? 0) < this.#maxPerKey;
  }

  #take(slot: string): void {
    this.#inflight++;
    this.#running.set(slot, (this.#running.get(slot) ?? 0) + 1);
  }

  #release(slot: string): void {
    this.#inflight--;
    const left = (this.#running.get(slot) ?? 1) - 1;
    if (left === 0) this.#running.delete(slot);
    else this.#running.set(slot, left);
    this.#dispatch();
  }

  // Hands free slots to waiting keys: the key running the fewest calls first (max-min fairness), ties in
  // round-robin order, skipping keys at their own limit.
  #dispatch(): void {
    while (this.#queued > 0 && this.#inflight < this.#max) {
      let chosen: string | undefined;
      let fewest = Number.POSITIVE_INFINITY;
      for (const slot of this.#queues.keys()) {
        const running = this.#running.get(slot) ?? 0;
        if (running < fewest && running < this.#maxPerKey) {
          chosen = slot;
          fewest = running;
        }
      }
      if (chosen === undefined) return;
      const queue = this.#queues.get(chosen)!;
      const waiter = queue.shift()!;
      this.#queues.delete(chosen);
      if (queue.length > 0) this.#queues.set(chosen, queue); // to the back of the round
      this.#queued--;
      waiter.settle();
      this.#take(chosen);
      waiter.resolve();
    }
  }

  #wait(slot: string, key: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.#queued >= this.#maxQueue && !this.#evictFor(slot)) {
      throw this.#reject(key, 'full');
    }
    const waiter = new Waiter(slot, signal);
    const queue = this.#queues.get(slot);
    if (queue) queue.push(waiter);
    else this.#queues.set(slot, [waiter]);
    this.#queued++;
    if (Number.isFinite(this.#queueTimeout)) {
      waiter.timer = this.#clock.setTimeout(() => {
        this.#remove(waiter);
        waiter.reject(this.#reject(key, 'queue-timeout'));
      }, this.#queueTimeout);
    }
    if (signal) {
      waiter.onAbort = () => {
        this.#remove(waiter);
        waiter.reject(abortedError(signal));
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    return waiter.promise;
  }

  // A full queue still admits a key that holds fewer places than the greediest key: its newest waiter goes.
  #evictFor(slot: string): boolean {
    if (this.#maxQueue === 0) return false;
    let greediest: Waiter[] | undefined;
    for (const queue of this.#queues.values()) {
      if (!greediest || queue.length > greediest.length) greediest = queue;
    }
    const mine = this.#queues.get(slot)?.length ?? 0;
    if (!greediest || greediest.length <= mine + 1) return false;
    const victim = greediest[greediest.length - 1]!;
    this.#remove(victim);
    victim.reject(this.#reject(victim.key === NO_KEY ? undefined : victim.key, 'evicted'));
    return true;
  }

  #remove(waiter: Waiter): void {
    waiter.settle();
    const queue = this.#queues.get(waiter.key);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return;
    queue.splice(index, 1);
    this.#queued--;
    if (queue.length === 0) this.#queues.delete(waiter.key);
  }

  #reject(key: string | undefined, reason: BulkheadRejectReason): HeadroomError {
    if (this.#rejected.active) this.#rejected.emit({ bulkhead: this.name, key, reason });
    const timedOut = reason === 'queue-timeout';
    return new HeadroomError(
      timedOut ? policyErrorCodes.HR_BULKHEAD_QUEUE_TIMEOUT : policyErrorCodes.HR_BULKHEAD_FULL,
      timedOut
        ? `bulkhead "${this.name}": no slot within ${this.#queueTimeout} ms`
        : `bulkhead "${this.name}" is full (${this.#max} running, ${this.#queued} queued)`,
      {
        status: 503,
        context: { bulkhead: this.name, reason, ...(key === undefined ? {} : { key }) },
        stack: false,
      },
    );
  }
}

// Settles with `work`, or rejects as soon as `signal` aborts (the work keeps its own signal and may stop).
function untilAborted<T>(work: Promise<T> | T, signal: AbortSignal): Promise<T> {
  if (!(work instanceof Promise)) return Promise.resolve(work);
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const onAbort = () => reject(abortedError(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  return promise;
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
