// The adaptive limit at the door: the first thing a request meets, before authentication, rate limits, routing
// work or any body is read, so a request the service cannot serve in time costs one small problem answer (no
// stack, no log line, counted in metrics) and never waits behind the work it would have added to.

import { performance } from 'node:perf_hooks';
import { invalidOption } from '@headroom/core/errors';
import type { AdaptiveLimitPolicy, AdaptivePermit } from '@headroom/core/policy';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { codeProblem, sendProblem } from './problem.ts';

/** Requests the door refused (the log controller of `requestIdOptions` writes no "request completed" for them). */
export const refusedAtDoor: WeakSet<object> = new WeakSet();

/** The plugin's `overload` option. */
export interface OverloadOptions {
  /**
   * The limit every request takes a slot of until its answer is sent or its client goes (`adaptiveLimit` from
   * `@headroom/core/policy`). Routes with `config.overload: false` skip it: the plugin's `/health*`,
   * `/metrics` and admin routes do, so operators can still look and act while the service sheds.
   */
  limit: AdaptiveLimitPolicy;
  /** Milliseconds a refused client should wait (Retry-After, rounded up to seconds). @default 1000 */
  retryDelay?: number;
  /**
   * Also refuse every request at once, free slot or not, while requests keep arriving at an event loop that has
   * stayed saturated (see `SaturationOptions`). The limit meters requests from the moment they reach the door; a
   * process too busy to read its sockets leaves the excess waiting in the kernel before it, where no RTT shows it
   * (the overload chaos drill: casebook's own 503s took under 5 ms while nginx waited 2.4 s for them, hundreds of
   * connections sat in each instance's accept queue, and the limit and its queue looked calm). Refusing everything
   * for a moment spends the loop on cheap answers until it has read what was waiting. @default off
   */
  saturation?: SaturationOptions;
}

/**
 * When the door refuses everything: readings of the event loop on its own time, each saturated when the loop was
 * busy `above` of it and requests overlapped at the door in it (each arrived while another held a slot or waited,
 * or the door refused it), at least a quarter of what the limit admits at once (and 2): requests that keep
 * arriving at a saturated loop faster than it serves them are waiting for it. A loop kept busy by one request at a time (a test process,
 * say), a process warming up, or one that was descheduled and reads the few requests that arrived meanwhile at
 * once is not a queue before the door. Work outside requests that keeps the loop busy in fine slices (a CPU-bound
 * job beside the server) counts as saturation too.
 */
export interface SaturationOptions {
  /** A reading counts as saturated when the loop was busy at least this share of it (0 to 1]. @default 0.95 */
  above?: number;
  /** Milliseconds of event-loop time one reading covers, at least (taken by the first request after). @default 50 */
  window?: number;
  /**
   * Saturated readings in a row before the door refuses, so that about `readings × window` ms of sustained
   * saturation is what a request may have waited before it. A reading longer than two windows ends the run: no
   * request reached the door meanwhile (a long GC, a burst being worked off), which is not a sustained state,
   * and it alone never refuses. @default 2
   */
  readings?: number;
  /**
   * The loop's busy and idle milliseconds so far (`performance.eventLoopUtilization`); readings and windows use
   * its time alone, no clock. Tests script it. @default performance.eventLoopUtilization
   */
  utilization?: () => { idle: number; active: number };
}

const saturationDefaults = { above: 0.95, window: 50, readings: 2 };

/** The door of one app, called from the plugin's first `onRequest` hook. */
export type OverloadGate = (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;

/**
 * Builds the door for `options`.
 *
 * @example
 * const gate = overloadGate({ limit: adaptiveLimit({ name: 'http', maxQueue: 16 }), saturation: { readings: 3 } });
 * app.addHook('onRequest', (request, reply, done) => gate(request, reply, done));
 */
export function overloadGate(
  options: OverloadOptions,
  /** Refusals the limit does not count itself: while saturated, and without a queue when no slot is free. */
  onRefused: (reason: 'saturated' | 'full') => void = () => {},
): OverloadGate {
  const limit = options.limit;
  if (typeof limit?.tryAcquire !== 'function') {
    throw invalidOption('@headroom/fastify', 'overload.limit', 'an adaptiveLimit policy', limit);
  }
  const delay = options.retryDelay ?? 1000;
  if (!(Number.isFinite(delay) && delay >= 0)) {
    throw invalidOption('@headroom/fastify', 'overload.retryDelay', 'a number of milliseconds >= 0', delay);
  }
  const retryAfter = String(Math.max(1, Math.ceil(delay / 1000)));
  const detail = `the service is at capacity (${limit.name}); retry shortly`;
  const queues = limit.stats().maxQueue > 0;
  const saturation =
    options.saturation === undefined ? undefined : saturationGuard(options.saturation, () => limit.limit);

  const refuse = (request: FastifyRequest, reply: FastifyReply) => {
    refusedAtDoor.add(request);
    reply.header('retry-after', retryAfter);
    sendProblem(reply, codeProblem(request, 'HR_OVERLOADED', detail, { limiter: limit.name }));
  };

  return function admitThroughDoor(request, reply, done): void {
    if (request.routeOptions.config.overload === false) {
      done();
      return;
    }
    if (saturation !== undefined) {
      // Not even queued: the loop is behind on what it has already been sent.
      if (saturation.shedding()) {
        saturation.pressed();
        onRefused('saturated');
        refuse(request, reply);
        return;
      }
      if (limit.inflight > 0 || limit.queued > 0) saturation.pressed();
    }
    const permit = limit.tryAcquire();
    if (permit !== undefined) {
      holdUntilAnswered(permit, reply);
      done();
    } else if (!queues) {
      onRefused('full');
      refuse(request, reply);
    } else {
      limit.acquire().then(
        (queued) => {
          holdUntilAnswered(queued, reply);
          done();
        },
        () => refuse(request, reply), // full, or past the queue deadline (counted by the limit's onReject)
      );
    }
  };
}

/** The door's saturation readings (see `SaturationOptions`). */
interface SaturationGuard {
  /** Whether to refuse everything now; takes a reading when a window of loop time has passed since the last. */
  shedding(): boolean;
  /** A request overlapped others at the door in the current window. */
  pressed(): void;
}

function saturationGuard(options: SaturationOptions, admitsAtOnce: () => number): SaturationGuard {
  const o = { ...saturationDefaults, ...options };
  const utilization = options.utilization ?? (() => performance.eventLoopUtilization());
  const name = (option: string) => `overload.saturation.${option}`;
  if (typeof utilization !== 'function') {
    throw invalidOption('@headroom/fastify', name('utilization'), 'a function', utilization);
  }
  if (!(o.above > 0 && o.above <= 1)) {
    throw invalidOption('@headroom/fastify', name('above'), 'a share above 0, at most 1', o.above);
  }
  if (!(Number.isFinite(o.window) && o.window >= 1)) {
    throw invalidOption('@headroom/fastify', name('window'), 'a number of milliseconds >= 1', o.window);
  }
  if (!(Number.isInteger(o.readings) && o.readings >= 1)) {
    throw invalidOption('@headroom/fastify', name('readings'), 'an integer >= 1', o.readings);
  }
  let last = utilization();
  let overlapped = 0;
  let inRow = 0;
  return {
    shedding() {
      const now = utilization();
      const elapsed = now.idle + now.active - (last.idle + last.active);
      if (elapsed >= o.window) {
        const saturated =
          overlapped >= Math.max(2, admitsAtOnce() / 4) &&
          elapsed <= 2 * o.window &&
          now.active - last.active >= o.above * elapsed;
        inRow = saturated ? inRow + 1 : 0;
        overlapped = 0;
        last = now;
      }
      return inRow >= o.readings;
    },
    pressed() {
      overlapped++;
    },
  };
}

// One listener per admitted request: 'close' comes after the answer is sent and when the client goes first.
// Only a finished answer below 500 feeds the estimate: how long an abandoned request ran says nothing about
// capacity, and neither does a 5xx, which took as long as a failing dependency's own bound (a frozen database
// held requests for a second each, the limit fell to its floor, and cached reads were refused: bench/db-freeze.ts).
function holdUntilAnswered(permit: AdaptivePermit, reply: FastifyReply): void {
  const res = reply.raw;
  if (res.closed) {
    permit.release('ignore'); // the client left while the request waited in the queue
    return;
  }
  res.once('close', () => permit.release(res.writableFinished && res.statusCode < 500 ? 'ok' : 'ignore'));
}
