// A clock for tests: time moves only when the test says so, timers fire in order.

import type { Clock, Timer } from './clock.ts';

interface Scheduled {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A manually driven Clock. `advance(ms)` runs every timer that falls due, in time order.
 *
 * @example
 * const clock = new FakeClock({ now: Date.parse('2026-01-01T00:00:00Z') });
 * clock.setTimeout(() => fired = true, 1000);
 * clock.advance(1000); // fired === true
 */
export class FakeClock implements Clock {
  #now: number;
  #origin: number;
  #seq = 0;
  #timers: Scheduled[] = [];

  constructor(options: { now?: number } = {}) {
    this.#now = options.now ?? 1_767_225_600_000;
    this.#origin = this.#now;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#now - this.#origin;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const entry: Scheduled = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#timers.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Moves time forward by `ms`, firing due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }

  /**
   * Like `advance`, but lets promise chains run between timers (and once at the end), so code that awaits
   * between timeouts makes progress as it would in real time. Waits for no real time to pass.
   *
   * @example
   * const call = policy.execute(task);
   * await clock.tick(1_000); // backoffs and timeouts in `call` ran in order
   */
  async tick(ms = 0): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#now = next.at;
      next.callback();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** Timers still waiting to fire. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  #nextDue(limit: number): Scheduled | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: Scheduled | undefined;
    for (const t of this.#timers) {
      if (t.at <= limit && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    if (best) best.cancelled = true;
    return best;
  }
}

// Runs every queued microtask and one turn of I/O callbacks; no timer is involved.
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
