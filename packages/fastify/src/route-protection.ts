// What a route's `config.rateLimit` and `config.concurrency` ask for, added from the plugin's onRoute hook:
// the rate-limit hook, and the handler run inside a bulkhead (503 HR_OVERLOADED + Retry-After when full).

import { deprecatedOption, type HeadroomError, invalidOption } from '@headroom/core/errors';
import { type BulkheadPermit, type BulkheadPolicy, isBulkheadRejectedError } from '@headroom/core/policy';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { fastifyErrors } from './errors.ts';
import type { Protection } from './protection.ts';
import { type RouteRateLimit, rateLimitHook } from './rate-limit-hook.ts';
import { phase } from './timing.ts';

/** `config.concurrency` of a route: the handler runs inside the bulkhead. */
export interface RouteConcurrency {
  limiter: BulkheadPolicy;
  /** The fair-share key (the tenant). @default none: one shared pool */
  key?: (request: FastifyRequest) => string | undefined;
  /** How long a refused client should wait before retrying, in ms: the 503's Retry-After, rounded up to whole seconds. @default 1000 */
  retryDelay?: number;
  /** @deprecated seconds; use `retryDelay` (ms). This name goes in the next release. */
  retryAfter?: number;
}

/**
 * The 503 of a full concurrency limit: HR_OVERLOADED naming the limiter, with `Retry-After` (seconds, as the
 * header takes them) and the bulkhead's refusal as its cause. For limits a service applies itself, inside a
 * loader say, as well as for `config.concurrency`.
 *
 * @example
 * if (isBulkheadRejectedError(error)) throw overloadedError('search', error);
 */
export function overloadedError(
  limiter: string,
  cause: unknown,
  retryAfter = '1',
): HeadroomError<'HR_OVERLOADED'> {
  return fastifyErrors.create('HR_OVERLOADED', `${limiter} is at capacity; retry shortly`, {
    cause,
    headers: { 'retry-after': retryAfter },
    context: { limiter },
  });
}

function retryAfterSeconds(config: RouteConcurrency): string {
  const old = deprecatedOption('config.concurrency', 'retryAfter', 'retryDelay (ms)', config.retryAfter);
  const ms = config.retryDelay ?? (old === undefined ? 1000 : old * 1000);
  if (!(Number.isFinite(ms) && ms >= 0))
    throw invalidOption('config.concurrency', 'retryDelay', 'a number of milliseconds >= 0', ms);
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Adds the hooks a route's `config.rateLimit` and `config.concurrency` ask for; called from `onRoute`.
 *
 * @example
 * app.addHook('onRoute', (route) => protectRoute(route, protection));
 */
export function protectRoute(route: RouteOptions, protection: Protection): void {
  const config = route.config as { rateLimit?: RouteRateLimit; concurrency?: RouteConcurrency } | undefined;
  if (config?.rateLimit) {
    const hook = rateLimitHook(config.rateLimit, protection);
    route.preValidation = [hook, ...[route.preValidation ?? []].flat()];
  }
  if (config?.concurrency) {
    const { limiter, key } = config.concurrency;
    const retryAfter = retryAfterSeconds(config.concurrency);
    if (!protection.bulkheads.has(limiter.name)) protection.bulkhead(limiter);
    const handler = route.handler;
    const overloaded = (error: unknown) => overloadedError(limiter.name, error, retryAfter);
    // The slot is held until the handler settles: the handler cannot be stopped half-way, so a client that
    // leaves frees nothing early. Waiting is what a client that leaves gives up (`clientGone`).
    const queued = async (self: unknown, request: FastifyRequest, reply: FastifyReply, slot?: string) => {
      let permit: BulkheadPermit;
      try {
        // Waiting for a slot is phase `queue` of the request (and a span, when it is traced).
        permit = await phase('queue', () => limiter.acquire(slot, clientGone(request)), {
          'headroom.limiter': limiter.name,
        });
      } catch (error) {
        throw isBulkheadRejectedError(error) ? overloaded(error) : error;
      }
      return holding(permit, handler, self, request, reply);
    };
    route.handler = function limitedHandler(this: unknown, request, reply) {
      const slot = key?.(request);
      // A free slot is taken at once, with no promise, signal or listener for the limiter itself.
      const permit = limiter.tryAcquire(slot);
      if (permit) return holding(permit, handler, this, request, reply);
      return queued(this, request, reply, slot);
    };
  }
}

// Runs `handler` holding `permit`, and releases it when the handler returns, throws or settles.
function holding(
  permit: BulkheadPermit,
  handler: RouteOptions['handler'],
  self: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): unknown {
  let result: unknown;
  try {
    result = handler.call(self as never, request, reply);
  } catch (error) {
    permit.release();
    throw error;
  }
  if (!(result instanceof Promise)) {
    permit.release();
    return result;
  }
  return result.then(
    (value) => {
      permit.release();
      return value;
    },
    (error: unknown) => {
      permit.release();
      throw error;
    },
  );
}

// An AbortSignal that aborts when the client closes the connection before the answer.
function clientGone(request: FastifyRequest): AbortSignal {
  const controller = new AbortController();
  const raw = request.raw;
  const onClose = () => {
    if (!raw.complete || raw.socket?.destroyed) controller.abort(new Error('client closed the connection'));
  };
  raw.socket?.once('close', onClose);
  raw.once('close', () => raw.socket?.off('close', onClose));
  return controller.signal;
}
