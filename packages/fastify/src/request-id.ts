// Request ids: honour a well-formed incoming x-request-id, otherwise mint a UUID; log it as request_id.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { problemErrorHandler } from './error-handler.ts';
import { refusedAtDoor } from './overload.ts';
import { lazyChildLogger } from './request-logger.ts';

/** The header a request id arrives in and is echoed back in. */
export const requestIdHeader = 'x-request-id';

const wellFormed = /^[A-Za-z0-9._:-]{1,128}$/;

/** The Fastify server options returned by {@link requestIdOptions}. */
export type RequestIdServerOptions = Required<
  Pick<
    FastifyServerOptions,
    'requestIdHeader' | 'logController' | 'genReqId' | 'frameworkErrors' | 'childLoggerFactory'
  >
>;

/**
 * The request id of `req`: its `x-request-id` when that is 1–128 characters of `[A-Za-z0-9._:-]`, else a
 * fresh UUID, so a caller can neither inject log lines nor blow up log sizes through the header.
 *
 * @example
 * genRequestId(req); // '3b241101-e2bb-4255-8caf-4136c566a962'
 */
export function genRequestId(req: IncomingMessage): string {
  const incoming = req.headers[requestIdHeader];
  return typeof incoming === 'string' && wellFormed.test(incoming) ? incoming : randomUUID();
}

/**
 * Answers the requests Fastify rejects before routing (a path with bad percent-encoding, an over-long path
 * parameter): no plugin hook runs for them, so without this they would get Fastify's plain JSON and no id.
 *
 * @example
 * const app = Fastify({ frameworkErrors: answerFrameworkError });
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  reply.header(requestIdHeader, request.id);
  problemErrorHandler(error, request, reply);
}

// Fastify's per-request lines, but none for a request the overload door refused: a flood of refusals is
// counted in metrics, not written to the log one line each (the "incoming" line came before the door).
class RequestLogController extends LogController {
  override requestCompleted(...args: Parameters<LogController['requestCompleted']>): void {
    if (refusedAtDoor.has(args[1] as object)) return;
    super.requestCompleted(...args);
  }
}

/**
 * Fastify server options for request ids. `requestIdHeader` is `false` on purpose: when it names a header,
 * Fastify 5 takes that header verbatim and never calls `genReqId`, so the header could not be validated.
 * The log label goes through a `LogController` because the top-level `requestIdLogLabel` option is
 * deprecated in Fastify 5 (FSTDEP024). `frameworkErrors` gives the requests Fastify rejects before routing
 * (and before any plugin hook) an id and a problem+json answer too. The logger that carries the id is made on
 * the request's first log call that would write (`lazyChildLogger`). A request the `overload` door refused
 * gets no "request completed" line.
 *
 * @example
 * const app = Fastify({ logger: true, ...requestIdOptions() });
 */
export function requestIdOptions(): RequestIdServerOptions {
  return {
    requestIdHeader: false,
    logController: new RequestLogController({ requestIdLogLabel: 'request_id' }),
    genReqId: genRequestId,
    frameworkErrors: answerFrameworkError,
    childLoggerFactory: lazyChildLogger,
  };
}
