// circuitBreaker: stops calling a dependency that fails or is slow, probes it after a delay, and closes
// again once the probes pass. State changes are lazy (decided when a call arrives), so no timer runs.

import { type Clock, systemClock } from '../clock/index.ts';
import { abortedError } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkFunction, checkNumber, withDefaults } from '../shared/options.ts';
import {
  type CircuitBreakerOptions,
  type CircuitBreakerTuning,
  type CircuitRejection,
  type CircuitSnapshot,
  type CircuitState,
  type CircuitStateChange,
  type CircuitStats,
  checkWindow,
  circuitBreakerDefaults,
  type HalfOpenBackoff,
} from './circuit-breaker-options.ts';
import { policyErrors } from './errors.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';
import { type OutcomeWindow, outcomeWindow } from './sliding-window.ts';

/**
 * The circuit breaker policy; create it with `circuitBreaker(options)`.
 *
 * @example
 * const breaker = circuitBreaker({ name: 'enrichment', failureRateThreshold: 0.5, halfOpenAfter: 5_000 });
 * breaker.onStateChange((e) => log.warn(e, 'breaker moved'));
 * const body = await breaker.execute(() => upstream.get('/suggestions'));
 */
export class CircuitBreakerPolicy extends PolicyBase {
  readonly name: string;
  readonly #clock: Clock;
  readonly #window: OutcomeWindow;
  /** The thresholds and half-open timing in force: replaced whole by `tune()`. */
  #t: Thresholds;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #changed = new Emitter<CircuitStateChange>();
  readonly #rejected = new Emitter<CircuitRejection>();

  #state: CircuitState = 'closed';
  // Monotonic ms of the last opening, and its wall-clock twin for snapshots.
  #openedAt = 0;
  #openedAtWall: number | undefined;
  #reopenings = 0;
  #isolations = 0;
  // Half-open bookkeeping: probes let through, and their outcomes.
  #probes = 0;
  #probeCalls = 0;
  #probeFailures = 0;
  #probeSlow = 0;

  /** Subscribes to state changes (for logs, metrics, alerts). */
  readonly onStateChange: Subscribe<CircuitStateChange> = this.#changed.subscribe;
  /** Subscribes to calls refused while open, half-open with every probe taken, or isolated. */
  readonly onReject: Subscribe<CircuitRejection> = this.#rejected.subscribe;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    const o = withDefaults(circuitBreakerDefaults, options);
    this.name = o.name;
    this.#clock = checkClock('circuitBreaker', o.clock ?? systemClock());
    this.#window = outcomeWindow(checkWindow(o.window));
    this.#isFailure = checkFunction('circuitBreaker', 'isFailure', o.isFailure);
    this.#t = checkThresholds(o);
    if (o.restore) this.#restore(o.restore);
  }

  /**
   * Changes the thresholds and the half-open timing (a config reload): they apply from the next call, while the
   * state, the window's outcomes and an open breaker's current delay stay. Invalid values throw and change nothing.
   *
   * @example
   * config.onChange(({ next }) => breaker.tune({ slowCallDurationThreshold: next.upstream.slowCall }));
   */
  tune(options: CircuitBreakerTuning): void {
    const t = this.#t;
    this.#t = checkThresholds({
      failureRateThreshold: t.failureRate,
      slowCallDurationThreshold: t.slowMs,
      slowCallRateThreshold: t.slowRate,
      minimumCalls: t.minimumCalls,
      halfOpenProbes: t.probeLimit,
      halfOpenAfter: t.backoff,
      ...options,
    });
  }

  /** The current state; an open breaker whose delay has passed reads as half-open. */
  get state(): CircuitState {
    this.#advance();
    return this.#state;
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
    const probe = this.#admit();
    const started = this.#clock.monotonic();
    try {
      const value = await next(fn, signal, key, attempt, chain, depth);
      this.#record(probe, false, this.#clock.monotonic() - started >= this.#t.slowMs);
      return value;
    } catch (error) {
      if (this.#isFailure(error)) this.#record(probe, true, false);
      else if (probe) this.#probes--; // an ignored outcome gives the probe slot back
      throw error;
    }
  }

  /**
   * Holds the breaker open (state `isolated`) until every handle returned is disposed or `reset()` runs.
   *
   * @example
   * const handle = breaker.isolate(); // maintenance window on the upstream
   * handle.dispose();                 // back to closed
   */
  isolate(): { dispose(): void; [Symbol.dispose](): void } {
    this.#isolations++;
    if (this.#state !== 'isolated') {
      const from = this.#state;
      this.#openedAt = this.#clock.monotonic();
      this.#openedAtWall = this.#clock.now();
      this.#move(from, 'isolated', 'isolate');
    }
    let released = false;
    const dispose = () => {
      if (released) return;
      released = true;
      this.#isolations--;
      if (this.#isolations === 0 && this.#state === 'isolated') this.reset();
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  /**
   * Closes the breaker and forgets its window, whatever the state (also releases every isolation).
   *
   * @example
   * breaker.reset(); // the operator knows the upstream is back
   */
  reset(): void {
    const from = this.#state;
    this.#isolations = 0;
    this.#reopenings = 0;
    this.#window.reset();
    this.#openedAtWall = undefined;
    this.#clearProbes();
    if (from !== 'closed') this.#move(from, 'closed', 'reset');
  }

  /** The figures an admin page shows: state, window totals and rates, when the next probe may run. */
  stats(): CircuitStats {
    const snapshot = this.toJSON();
    const { calls, failures, slowCalls } = snapshot.window;
    const probeAt =
      this.#state === 'open'
        ? this.#clock.now() + Math.max(0, this.#probeAt() - this.#clock.monotonic())
        : undefined;
    return {
      ...snapshot,
      failureRate: calls === 0 ? 0 : failures / calls,
      slowCallRate: calls === 0 ? 0 : slowCalls / calls,
      probes: this.#probes,
      ...(probeAt === undefined ? {} : { probeAt }),
    };
  }

  /** A snapshot to persist and hand back through the `restore` option. */
  toJSON(): CircuitSnapshot {
    this.#advance();
    this.#window.roll(this.#clock.monotonic());
    return {
      name: this.name,
      state: this.#state,
      reopenings: this.#reopenings,
      window: {
        calls: this.#window.calls,
        failures: this.#window.failures,
        slowCalls: this.#window.slowCalls,
      },
      ...(this.#openedAtWall === undefined ? {} : { openedAt: this.#openedAtWall }),
    };
  }

  // Decides whether a call may run; true when it runs as a half-open probe.
  #admit(): boolean {
    this.#advance();
    switch (this.#state) {
      case 'closed':
        return false;
      case 'half-open':
        if (this.#probes < this.#t.probeLimit) {
          this.#probes++;
          return true;
        }
        break;
      default:
        break;
    }
    if (this.#rejected.active) this.#rejected.emit({ breaker: this.name, state: this.#state });
    const isolated = this.#state === 'isolated';
    throw policyErrors.create(
      isolated ? 'HR_CIRCUIT_ISOLATED' : 'HR_CIRCUIT_OPEN',
      isolated ? `circuit "${this.name}" is isolated` : `circuit "${this.name}" is ${this.#state}`,
      { context: { breaker: this.name, state: this.#state } },
    );
  }

  #record(probe: boolean, failed: boolean, slow: boolean): void {
    const now = this.#clock.monotonic();
    if (probe) {
      if (this.#state !== 'half-open') return; // reset or isolated meanwhile: the probe's verdict is moot
      this.#probeCalls++;
      if (failed) this.#probeFailures++;
      if (slow) this.#probeSlow++;
      const failedShare = this.#probeFailures / this.#t.probeLimit;
      const slowShare = this.#probeSlow / this.#t.probeLimit;
      // Open as soon as the probes cannot pass any more; close once all are in and they passed.
      if (failedShare >= this.#t.failureRate || slowShare >= this.#t.slowRate) {
        this.#reopenings++;
        this.#open(now, 'probe-failed');
      } else if (this.#probeCalls === this.#t.probeLimit) {
        this.#reopenings = 0;
        this.#window.reset();
        this.#clearProbes();
        this.#openedAtWall = undefined;
        this.#move('half-open', 'closed', 'probes-passed');
      }
      return;
    }
    if (this.#state !== 'closed') return; // a call admitted before the breaker opened
    this.#window.record(now, failed, slow);
    const calls = this.#window.calls;
    if (calls < this.#t.minimumCalls) return;
    if (this.#window.failures / calls >= this.#t.failureRate) this.#open(now, 'failure-rate');
    else if (this.#window.slowCalls / calls >= this.#t.slowRate) this.#open(now, 'slow-call-rate');
  }

  #open(now: number, reason: CircuitStateChange['reason']): void {
    const from = this.#state;
    this.#openedAt = now;
    this.#openedAtWall = this.#clock.now();
    this.#clearProbes();
    this.#move(from, 'open', reason);
  }

  // Open → half-open once the delay has passed; decided when someone looks.
  #advance(): void {
    if (this.#state !== 'open' || this.#clock.monotonic() < this.#probeAt()) return;
    this.#clearProbes();
    this.#move('open', 'half-open', 'delay-elapsed');
  }

  #probeAt(): number {
    const { initial, max, multiplier } = this.#t.backoff;
    return this.#openedAt + Math.min(max, initial * multiplier ** this.#reopenings);
  }

  #clearProbes(): void {
    this.#probes = this.#probeCalls = this.#probeFailures = this.#probeSlow = 0;
  }

  #move(from: CircuitState, to: CircuitState, reason: CircuitStateChange['reason']): void {
    this.#state = to;
    if (to === 'closed') this.#window.reset();
    if (this.#changed.active) this.#changed.emit({ breaker: this.name, from, to, reason });
  }

  #restore(snapshot: CircuitSnapshot): void {
    const now = this.#clock.monotonic();
    this.#reopenings = snapshot.reopenings;
    const { calls, failures, slowCalls } = snapshot.window;
    if (snapshot.state === 'closed') {
      this.#window.restore(now, calls, failures, slowCalls);
      return;
    }
    // Time spent open before the snapshot counts towards the delay; a restored half-open probes afresh.
    const openedFor =
      snapshot.openedAt === undefined ? 0 : Math.max(0, this.#clock.now() - snapshot.openedAt);
    this.#openedAt = now - openedFor;
    this.#openedAtWall = snapshot.openedAt ?? this.#clock.now();
    if (snapshot.state === 'isolated') {
      this.#isolations = 1;
      this.#state = 'isolated';
    } else {
      this.#state = 'open';
      if (snapshot.state === 'half-open') this.#openedAt = now - this.#probeAt() + this.#openedAt;
    }
  }
}

/**
 * Opens when the failure rate or the slow-call rate of the window reaches its threshold (after
 * `minimumCalls`), refuses calls with HR_CIRCUIT_OPEN (`isBrokenCircuitError`) while open, lets
 * `halfOpenProbes` calls through after `halfOpenAfter` (growing by backoff each time the probes fail),
 * and closes when they pass. `isolate()` and `reset()` are the operator's levers; `toJSON()` and the
 * `restore` option carry the state across a restart.
 *
 * @example
 * const breaker = circuitBreaker({
 *   name: 'enrichment',
 *   window: { type: 'time', duration: 10_000 },
 *   slowCallDurationThreshold: 200,
 *   slowCallRateThreshold: 0.5,
 *   halfOpenAfter: { initial: 1_000, max: 30_000 },
 *   halfOpenProbes: 3,
 * });
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}

/** What `checkThresholds` returns: a breaker's thresholds and half-open timing, checked. */
interface Thresholds {
  readonly failureRate: number;
  readonly slowMs: number;
  readonly slowRate: number;
  readonly minimumCalls: number;
  readonly probeLimit: number;
  readonly backoff: Required<HalfOpenBackoff>;
}

/** The tunable options, checked (HR_INVALID_OPTION naming the first bad one). */
function checkThresholds(o: Required<CircuitBreakerTuning>): Thresholds {
  const backoff = typeof o.halfOpenAfter === 'number' ? { initial: o.halfOpenAfter } : o.halfOpenAfter;
  const initial = checkNumber('circuitBreaker', 'halfOpenAfter', backoff?.initial, { min: 0 });
  return {
    failureRate: checkNumber('circuitBreaker', 'failureRateThreshold', o.failureRateThreshold, {
      min: 0,
      above: true,
      max: 1,
    }),
    slowMs: checkNumber('circuitBreaker', 'slowCallDurationThreshold', o.slowCallDurationThreshold, {
      infinite: true,
    }),
    slowRate: checkNumber('circuitBreaker', 'slowCallRateThreshold', o.slowCallRateThreshold, {
      min: 0,
      above: true,
      max: 1,
    }),
    minimumCalls: checkNumber('circuitBreaker', 'minimumCalls', o.minimumCalls, { min: 1, integer: true }),
    probeLimit: checkNumber('circuitBreaker', 'halfOpenProbes', o.halfOpenProbes, { min: 1, integer: true }),
    backoff: {
      initial,
      max: checkNumber('circuitBreaker', 'halfOpenAfter.max', backoff.max ?? initial * 32, { min: initial }),
      multiplier: checkNumber('circuitBreaker', 'halfOpenAfter.multiplier', backoff.multiplier ?? 2, {
        min: 1,
      }),
    },
  };
}
