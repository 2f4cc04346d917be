// Bounds how long the limiter waits for its store: every wait has the same timeout, so deadlines arrive in
// FIFO order and one clock timer, armed for the oldest, serves all of them (no timer per decision).

import type { Clock, Timer } from '../clock/index.ts';

/** What `DeadlineQueue.race` resolves with when the work did not settle in time. */
export const timedOut: unique symbol = Symbol('timedOut');
/** What `DeadlineQueue.race` resolves with when the caller's signal aborted first. */
export const aborted: unique symbol = Symbol('aborted');

class Waiter<T> {
  readonly at: number;
  settled = false;
  #resolve!: (value: T | typeof timedOut | typeof aborted) => void;
  #signal: AbortSignal | undefined;

  constructor(at: number) {
    this.at = at;
  }

  race(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof timedOut | typeof aborted> {
    const promise = new Promise<T | typeof timedOut | typeof aborted>((resolve, reject) => {
      this.#resolve = resolve;
      work.then(
        (value) => {
          if (this.#settle()) resolve(value);
        },
        (error: unknown) => {
          if (this.#settle()) reject(error);
        },
      );
    });
    if (signal) {
      this.#signal = signal;
      signal.addEventListener('abort', this);
    }
    return promise;
  }

  expire(): void {
    if (this.#settle()) this.#resolve(timedOut);
  }

  handleEvent(): void {
    if (this.#settle()) this.#resolve(aborted);
  }

  #settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.#signal?.removeEventListener('abort', this);
    return true;
  }
}

/**
 * Races work against a fixed timeout measured on `clock`. A late result is dropped (its rejection is
 * handled), never delivered twice.
 *
 * @example
 * const queue = new DeadlineQueue(clock, 50);
 * const result = await queue.race(store.decide(key, params, now, 1), signal);
 * if (result === timedOut) useInsurance();
 */
export class DeadlineQueue {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #waiters: Waiter<unknown>[] = [];
  #head = 0;
  #timer: Timer | undefined;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  race<T>(work: Promise<T>, signal?: AbortSignal): Promise<T | typeof timedOut | typeof aborted> {
    const waiter = new Waiter<T>(this.#clock.monotonic() + this.#timeoutMs);
    this.#waiters.push(waiter as Waiter<unknown>);
    if (!this.#timer) this.#arm(this.#timeoutMs);
    return waiter.race(work, signal);
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#expire(), ms);
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#clock.monotonic();
    const waiters = this.#waiters;
    while (this.#head < waiters.length) {
      const waiter = waiters[this.#head]!;
      if (!waiter.settled && waiter.at > now) break;
      waiter.expire();
      this.#head++;
    }
    if (this.#head === waiters.length) {
      this.#waiters = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024) {
      this.#waiters = waiters.slice(this.#head);
      this.#head = 0;
    }
    this.#arm(this.#waiters[this.#head]!.at - now);
  }
}
