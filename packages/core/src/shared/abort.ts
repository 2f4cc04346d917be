// AbortSignal plumbing shared by every module: following a parent signal, waiting on the clock, and leaving
// work behind when the caller gives up on it.

import type { Clock, Timer } from '../clock/index.ts';
import { abortedError } from '../errors/index.ts';

/**
 * Aborts `controller` when `parent` aborts, with the parent's reason. An EventListenerObject rather than a
 * closure, so following a signal costs one small object; call `unfollow()` in `finally`.
 *
 * @example
 * const link = new SignalLink(parent, controller);
 * try { return await work(controller.signal); } finally { link.unfollow(); }
 */
export class SignalLink {
  readonly #parent: AbortSignal;
  readonly #controller: AbortController;

  constructor(parent: AbortSignal, controller: AbortController) {
    this.#parent = parent;
    this.#controller = controller;
    if (parent.aborted) controller.abort(parent.reason);
    else parent.addEventListener('abort', this);
  }

  handleEvent(): void {
    this.#controller.abort(this.#parent.reason);
  }

  unfollow(): void {
    this.#parent.removeEventListener('abort', this);
  }
}

class Sleep {
  readonly promise: Promise<void>;
  readonly #signal: AbortSignal | undefined;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;
  #timer: Timer | undefined;

  constructor(clock: Clock, ms: number, signal: AbortSignal | undefined) {
    this.#signal = signal;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal?.aborted) {
      this.#reject(abortedError(signal));
      return;
    }
    this.#timer = clock.setTimeout(() => this.#wake(), ms);
    signal?.addEventListener('abort', this);
  }

  handleEvent(): void {
    this.#timer?.cancel();
    this.#signal?.removeEventListener('abort', this);
    if (this.#signal) this.#reject(abortedError(this.#signal));
  }

  #wake(): void {
    this.#signal?.removeEventListener('abort', this);
    this.#resolve();
  }
}

/**
 * Resolves after `ms` on `clock`; rejects at once (timer cancelled) when `signal` aborts.
 *
 * @example
 * await sleep(clock, 250, signal); // a retry's backoff that a client disconnect cuts short
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Sleep(clock, ms, signal).promise;
}

/**
 * Settles with `work`, or rejects with {@link abortedError} as soon as `signal` aborts: the caller stops
 * waiting while the work itself goes on (a load shared with other callers, a function that got the same
 * signal and may stop on its own). A value that is not a promise settles at once.
 *
 * @example
 * return await untilAborted(sharedLoad, request.signal);
 */
export function untilAborted<T>(work: Promise<T> | T, signal: AbortSignal): Promise<T> {
  if (!(work instanceof Promise)) return Promise.resolve(work);
  if (signal.aborted) return Promise.reject(abortedError(signal));
  return new AbortRace(work, signal).promise;
}

// untilAborted's state as one object: the listener is the object itself (handleEvent), and settling removes
// it, so a call makes one promise of its own and one `then`, with no `finally` chained behind.
class AbortRace<T> {
  readonly promise: Promise<T>;
  readonly #signal: AbortSignal;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;

  constructor(work: Promise<T>, signal: AbortSignal) {
    this.#signal = signal;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    signal.addEventListener('abort', this);
    work.then(
      (value) => {
        signal.removeEventListener('abort', this);
        this.#resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', this);
        this.#reject(error);
      },
    );
  }

  handleEvent(): void {
    this.#signal.removeEventListener('abort', this);
    this.#reject(abortedError(this.#signal));
  }
}
