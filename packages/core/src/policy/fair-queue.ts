// Slots shared fairly between keys (tenants): at most N held at once and M by one key; waiters queue per key,
// a freed slot goes to the waiting key that holds the fewest (round-robin among equals), and a full queue
// makes room by evicting the newest waiter of the key that holds the most places in it. The bulkhead is this
// plus a policy interface; job workers can use it as it is.

import { type Clock, systemClock, type Timer } from '../clock/index.ts';
import { abortedError } from '../errors/index.ts';
import { checkClock, checkNumber, withDefaults } from '../shared/options.ts';

/** Options of `fairQueue`. */
export interface FairQueueOptions {
  /** Slots held at once. */
  maxConcurrent: number;
  /** Slots one key may hold at once, however idle the rest is. @default maxConcurrent */
  maxPerKey?: number;
  /** Waiters in all; beyond it a take is refused (or evicts, see above). @default 0 */
  maxQueue?: number;
  /** Milliseconds a waiter may wait before it is refused with `queue-timeout`. @default Infinity */
  queueTimeout?: number;
  /** Time source of the queue timeout. @default systemClock() */
  clock?: Clock;
}

/** Why a take was refused. `evicted`: it waited, and a key with fewer places in the queue took its place. */
export type FairQueueRefusal = 'full' | 'queue-timeout' | 'evicted';

/** Builds what a refused take rejects with (an error naming the owner); called once per refusal. */
export type RefusalError = (key: string, reason: FairQueueRefusal) => unknown;

/** Running and queued takes per key, for stats pages and metrics. */
export interface FairQueueStats {
  inflight: number;
  queued: number;
  keys: Record<string, { inflight: number; queued: number }>;
}

const defaultOptions = { maxQueue: 0, queueTimeout: Number.POSITIVE_INFINITY };

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

/**
 * The fair queue; create it with `fairQueue(options, refusal)`.
 *
 * @example
 * const slots = fairQueue({ maxConcurrent: 4, maxPerKey: 2, maxQueue: 16 }, (key, reason) => new Error(reason));
 * if (!slots.tryTake(tenant)) await slots.take(tenant, signal);
 * try { await work(); } finally { slots.release(tenant); }
 */
export class FairQueue {
  #maxConcurrent: number;
  #maxPerKey: number;
  /** maxPerKey as given (undefined: it follows maxConcurrent through `resize`). */
  readonly #perKeyOption: number | undefined;
  readonly maxQueue: number;
  readonly queueTimeout: number;
  readonly #clock: Clock;
  readonly #refusal: RefusalError;
  #inflight = 0;
  #queued = 0;
  readonly #running = new Map<string, number>();
  // Waiting takes per key; Map order is the round-robin order (a served key moves to the back).
  readonly #queues = new Map<string, Waiter[]>();

  constructor(options: FairQueueOptions, refusal: RefusalError, owner = 'fairQueue') {
    const o = withDefaults(defaultOptions, options ?? ({} as FairQueueOptions));
    this.#maxConcurrent = checkNumber(owner, 'maxConcurrent', o.maxConcurrent, { min: 1, integer: true });
    this.maxQueue = checkNumber(owner, 'maxQueue', o.maxQueue, { integer: true, infinite: true });
    this.queueTimeout = checkNumber(owner, 'queueTimeout', o.queueTimeout, { infinite: true });
    this.#maxPerKey = checkNumber(owner, 'maxPerKey', o.maxPerKey ?? this.#maxConcurrent, {
      min: 1,
      max: this.#maxConcurrent,
      integer: true,
    });
    this.#perKeyOption = o.maxPerKey === undefined ? undefined : this.#maxPerKey;
    this.#clock = checkClock(owner, o.clock ?? systemClock());
    this.#refusal = refusal;
  }

  /** Slots held at once at most. */
  get maxConcurrent(): number {
    return this.#maxConcurrent;
  }

  /** Slots one key may hold at once. */
  get maxPerKey(): number {
    return this.#maxPerKey;
  }

  /**
   * Changes how many slots may be held at once (an adaptive limit moves it). Growing hands the new slots to
   * waiters at once; shrinking takes nothing back: holders finish, and no new take runs until the count is
   * under the new size. A `maxPerKey` left out follows the size; one given is kept, capped by the size.
   */
  resize(maxConcurrent: number): void {
    const size = Math.max(1, Math.floor(maxConcurrent));
    this.#maxConcurrent = size;
    this.#maxPerKey = Math.min(this.#perKeyOption ?? size, size);
    this.#dispatch();
  }

  /** Slots held now. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Takes waiting now. */
  get queued(): number {
    return this.#queued;
  }

  /** Takes a slot for `key` when one is free for it now; false otherwise (nothing queued or refused). */
  tryTake(key: string): boolean {
    if (!this.#canRun(key)) return false;
    this.#take(key);
    return true;
  }

  /**
   * Resolves holding a slot for `key`, waiting in the fair queue when none is free; rejects with the refusal
   * error (`full`, `queue-timeout`, `evicted`), or HR_ABORTED when `signal` aborts while waiting.
   */
  take(key: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (this.tryTake(key)) return Promise.resolve();
    return this.#wait(key, signal);
  }

  /** Gives back a slot of `key` and hands free slots to waiting keys. */
  release(key: string): void {
    this.#inflight--;
    const left = (this.#running.get(key) ?? 1) - 1;
    if (left === 0) this.#running.delete(key);
    else this.#running.set(key, left);
    this.#dispatch();
  }

  stats(): FairQueueStats {
    const keys: FairQueueStats['keys'] = {};
    for (const [key, n] of this.#running) keys[key] = { inflight: n, queued: 0 };
    for (const [key, queue] of this.#queues) {
      keys[key] = { inflight: this.#running.get(key) ?? 0, queued: queue.length };
    }
    return { inflight: this.#inflight, queued: this.#queued, keys };
  }

  #canRun(key: string): boolean {
    return this.#inflight < this.#maxConcurrent && (this.#running.get(key) ?? 0) < this.#maxPerKey;
  }

  #take(key: string): void {
    this.#inflight++;
    this.#running.set(key, (this.#running.get(key) ?? 0) + 1);
  }

  // Max-min fairness: the waiting key running the fewest first, ties in round-robin order, keys at their own
  // limit skipped.
  #dispatch(): void {
    while (this.#queued > 0 && this.#inflight < this.#maxConcurrent) {
      let chosen: string | undefined;
      let fewest = Number.POSITIVE_INFINITY;
      for (const key of this.#queues.keys()) {
        const running = this.#running.get(key) ?? 0;
        if (running < fewest && running < this.#maxPerKey) {
          chosen = key;
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

  #wait(key: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.#queued >= this.maxQueue && !this.#evictFor(key)) {
      return Promise.reject(this.#refusal(key, 'full'));
    }
    const waiter = new Waiter(key, signal);
    const queue = this.#queues.get(key);
    if (queue) queue.push(waiter);
    else this.#queues.set(key, [waiter]);
    this.#queued++;
    if (Number.isFinite(this.queueTimeout)) {
      waiter.timer = this.#clock.setTimeout(() => {
        this.#remove(waiter);
        waiter.reject(this.#refusal(key, 'queue-timeout'));
      }, this.queueTimeout);
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
  #evictFor(key: string): boolean {
    if (this.maxQueue === 0) return false;
    let greediest: Waiter[] | undefined;
    for (const queue of this.#queues.values()) {
      if (!greediest || queue.length > greediest.length) greediest = queue;
    }
    const mine = this.#queues.get(key)?.length ?? 0;
    if (!greediest || greediest.length <= mine + 1) return false;
    const victim = greediest[greediest.length - 1]!;
    this.#remove(victim);
    victim.reject(this.#refusal(victim.key, 'evicted'));
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
}

/**
 * Creates a fair queue. `refusal` builds the error a refused take rejects with (the bulkhead makes an
 * HR_BULKHEAD_FULL / HR_BULKHEAD_QUEUE_TIMEOUT HeadroomError and emits its event there).
 *
 * @example
 * const workers = fairQueue({ maxConcurrent: 8, maxPerKey: 3, maxQueue: 100 }, (key, reason) =>
 *   policyErrors.create('HR_BULKHEAD_FULL', `tenant ${key}: ${reason}`));
 */
export function fairQueue(options: FairQueueOptions, refusal: RefusalError): FairQueue {
  return new FairQueue(options, refusal);
}
