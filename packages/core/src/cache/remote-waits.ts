// Instances that lost the race for a key's load lease wait here for the bus to say the value landed in L2 (or
// that the holder gave up), with a bound, instead of polling L2.

import type { Clock, Timer } from '../clock/index.ts';

/** Why a wait ended: the value was stored, the lease holder gave up, or nobody said anything in time. */
export type RemoteOutcome = 'set' | 'released' | 'timeout';

/**
 * One waiting load. Register it BEFORE trying the lease, so a notice that arrives between the failed attempt and
 * the wait is not lost.
 *
 * @example
 * const wait = waits.register(key);
 * try { if (!(await store.acquireLease(key, token, ttl))) outcome = await wait.until(ttl); } finally { wait.dispose(); }
 */
export class RemoteWait {
  readonly #owner: RemoteWaits;
  readonly key: string;
  #outcome: RemoteOutcome | undefined;
  #resolve: ((outcome: RemoteOutcome) => void) | undefined;
  #timer: Timer | undefined;

  constructor(owner: RemoteWaits, key: string) {
    this.#owner = owner;
    this.key = key;
  }

  /** Resolves with the first notice, or 'timeout' after `ms`. A notice that came before the call counts. */
  until(clock: Clock, ms: number): Promise<RemoteOutcome> {
    if (this.#outcome !== undefined) return Promise.resolve(this.#outcome);
    const { promise, resolve } = Promise.withResolvers<RemoteOutcome>();
    this.#resolve = resolve;
    this.#timer = clock.setTimeout(() => this.settle('timeout'), ms);
    return promise;
  }

  settle(outcome: RemoteOutcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#timer?.cancel();
    this.#resolve?.(outcome);
  }

  /** Forgets the wait (call in `finally`). */
  dispose(): void {
    this.#timer?.cancel();
    this.#owner.remove(this);
  }
}

/**
 * The waits of one cache instance, by store key.
 *
 * @example
 * bus.subscribe((m) => { if (m.type === 'set') for (const k of m.keys) waits.wake(k, 'set'); });
 */
export class RemoteWaits {
  readonly #byKey = new Map<string, Set<RemoteWait>>();

  get size(): number {
    return this.#byKey.size;
  }

  register(key: string): RemoteWait {
    const wait = new RemoteWait(this, key);
    let set = this.#byKey.get(key);
    if (set === undefined) {
      set = new Set();
      this.#byKey.set(key, set);
    }
    set.add(wait);
    return wait;
  }

  wake(key: string, outcome: RemoteOutcome): void {
    const set = this.#byKey.get(key);
    if (set === undefined) return;
    for (const wait of set) wait.settle(outcome);
  }

  /** Ends every wait at once (the bus went down: no notice can come). */
  wakeAll(outcome: RemoteOutcome): void {
    for (const set of this.#byKey.values()) for (const wait of set) wait.settle(outcome);
  }

  remove(wait: RemoteWait): void {
    const set = this.#byKey.get(wait.key);
    if (set === undefined) return;
    set.delete(wait);
    if (set.size === 0) this.#byKey.delete(wait.key);
  }
}
