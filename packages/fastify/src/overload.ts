// The adaptive limit at the door: the first thing a request meets, before authentication, rate limits, routing
// work or any body is read, so a request the service cannot serve in time costs one small problem answer (no
// stack, no log line, counted in metrics) and never waits behind the work it would have added to.

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
}

/** The door of one app, called from the plugin's first `onRequest` hook. */
export type OverloadGate = (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;

/**
 * Builds the door for `options`.
 *
 * @example
 * const gate = overloadGate({ limit: adaptiveLimit({ name: 'http', maxQueue: 16 }) });
 * app.addHook('onRequest', (request, reply, done) => gate(request, reply, done));
 */
export function overloadGate(options: OverloadOptions): OverloadGate {
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

  const refuse = (request: FastifyRequest, reply: FastifyReply) => {
    refusedAtDoor.add(request);
    reply.header('retry-after', retryAfter);
    sendProblem(reply, codeProblem(request, 'HR_OVERLOADED', detail, { limiter: limit.name }));
  };

  return function admitThroughDoor(request, reply, done): void {
    const permit = request.routeOptions.config.overload === false ? EXEMPT : limit.tryAcquire();
    if (permit === EXEMPT) {
      done();
    } else if (permit !== undefined) {
      holdUntilAnswered(permit, reply);
      done();
    } else if (!queues) {
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

const EXEMPT = Symbol('exempt');

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
