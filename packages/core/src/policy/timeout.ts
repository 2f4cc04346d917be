// timeout: each call gets a signal that aborts at its deadline, and the policy rejects with HR_TIMEOUT at
// the deadline even when the function ignores the signal. One clock timer serves every pending call.

import { type Clock, systemClock, type Timer } from '../clock/index.ts';
import { abortedError, type HeadroomError } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkNumber } from '../shared/options.ts';
import { policyErrors } from './errors.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';

/** Options of `timeout`. */
export interface TimeoutOptions {
  /** Milliseconds a call may take before its signal aborts and the policy rejects with HR_TIMEOUT. */
  duration: number;
  /** Time source. @default systemClock() */
  clock?: Clock;
}

/** Emitted when a call reaches its deadline. */
export interface TimeoutEvent {
  duration: number;
}

// One pending call: a node of the deadline list, and the listener that follows the caller's signal.
class Deadline<T = unknown> {
  prev: Deadline | undefined;
  next: Deadline | undefined;
  readonly at: number;
  readonly controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  #reject: ((error: unknown) => void) | undefined;

  constructor(at: number, parent: AbortSignal | undefined) {
    this.at = at;
    this.#parent = parent;
  }

  race(work: Promise<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.#reject = reject;
    work.then(resolve, reject);
    return promise;
  }

  expire(error: HeadroomError): void {
    this.#reject?.(error);
    this.controller.abort(error);
  }

  handleEvent(): void {
    const parent = this.#parent!;
    this.#reject?.(abortedError(parent));
    this.controller.abort(parent.reason);
  }
}

/**
 * The timeout policy; create it with `timeout(options)`.
 *
 * @example
 * const policy = timeout({ duration: 200 });
 * await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export class TimeoutPolicy extends PolicyBase {
  readonly #duration: number;
  readonly #clock: Clock;
  readonly #timedOut = new Emitter<TimeoutEvent>();
  // Every call waits the same duration, so deadlines arrive in order: a FIFO list and one timer suffice.
  #head: Deadline | undefined;
  #tail: Deadline | undefined;
  #timer: Timer | undefined;
  readonly #fire = () => this.#expireDue();

  /** Subscribes to calls that reached their deadline. */
  readonly onTimeout: Subscribe<TimeoutEvent> = this.#timedOut.subscribe;

  constructor(options: TimeoutOptions) {
    super();
    const { duration, clock = systemClock() } = options ?? ({} as TimeoutOptions);
    this.#duration = checkNumber('timeout', 'duration', duration, { min: 0, above: true });
    this.#clock = checkClock('timeout', clock);
  }

  /** Milliseconds each call may take. */
  get duration(): number {
    return this.#duration;
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
    const deadline = new Deadline<T>(this.#clock.monotonic() + this.#duration, signal);
    this.#push(deadline);
    signal?.addEventListener('abort', deadline);
    try {
      const work = next(fn, deadline.controller.signal, key, attempt, chain, depth);
      return work instanceof Promise ? await deadline.race(work) : work;
    } finally {
      this.#unlink(deadline);
      signal?.removeEventListener('abort', deadline);
    }
  }

  #push(deadline: Deadline): void {
    deadline.prev = this.#tail;
    if (this.#tail) this.#tail.next = deadline;
    else this.#head = deadline;
    this.#tail = deadline;
    this.#timer ??= this.#clock.setTimeout(this.#fire, this.#duration);
  }

  #unlink(deadline: Deadline): void {
    if (deadline.prev) deadline.prev.next = deadline.next;
    else if (this.#head === deadline) this.#head = deadline.next;
    if (deadline.next) deadline.next.prev = deadline.prev;
    else if (this.#tail === deadline) this.#tail = deadline.prev;
    deadline.prev = deadline.next = undefined;
  }

  #expireDue(): void {
    this.#timer = undefined;
    const now = this.#clock.monotonic();
    for (let due = this.#head; due !== undefined && due.at <= now; due = this.#head) {
      this.#unlink(due);
      const error = policyErrors.create('HR_TIMEOUT', `timed out after ${this.#duration} ms`, {
        context: { duration: this.#duration },
      });
      if (this.#timedOut.active) this.#timedOut.emit({ duration: this.#duration });
      due.expire(error);
    }
    if (this.#head) this.#timer = this.#clock.setTimeout(this.#fire, this.#head.at - now);
  }
}

/**
 * Gives each call `duration` ms. The function receives a signal that aborts at the deadline (cooperative
 * cancellation); the policy rejects with HR_TIMEOUT (`isTimeoutError`) at the deadline whether or not the
 * function stops. An abort of the caller's signal is passed on and rejects at once.
 *
 * @example
 * const upstream = timeout({ duration: 250 });
 * const body = await upstream.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 */
export function timeout(options: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(options);
}
