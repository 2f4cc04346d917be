// Maps everything a route can throw (and every route that does not exist) to a problem+json answer.

import type { Clock } from '@headroom/core/clock';
import { isHeadroomError } from '@headroom/core/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { inBursts } from './bursts.ts';
import { type FastifyErrorCode, fastifyErrorCodes, fastifyErrors } from './errors.ts';
import { codeProblem, type Problem, problem, requestPath, sendProblem } from './problem.ts';
import { validationDetails } from './validation.ts';

/** Fastify's own client errors (Fastify 5, lib/errors.js) that deserve a more precise code than HR_BAD_REQUEST. */
const fastifyCodes: Record<string, FastifyErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: fastifyErrorCodes.HR_MALFORMED_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: fastifyErrorCodes.HR_MALFORMED_JSON,
  FST_ERR_CTP_BODY_TOO_LARGE: fastifyErrorCodes.HR_BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: fastifyErrorCodes.HR_UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_MAX_PARAM_LENGTH: fastifyErrorCodes.HR_URI_TOO_LONG,
};

/** Errors Fastify raises before routing (see `frameworkErrors`); their messages would echo the whole URL. */
const routerDetails: Record<string, string> = {
  FST_ERR_BAD_URL: 'the path contains an invalid percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is longer than the router accepts',
};

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  validationContext?: unknown;
}

/**
 * The plugin's error handler: HeadroomError → its status and code, validation and other client errors →
 * 4xx naming the input, anything else → a 500 that says nothing about the cause. 5xx are logged at error,
 * 4xx at info.
 *
 * @example
 * app.setErrorHandler(problemErrorHandler);
 */
export function problemErrorHandler(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  return answer(error, request, reply, logEachShed);
}

/** Logs a planned refusal: `warn` for a shed 5xx, `info` for a 429. */
type ShedLog = (request: FastifyRequest, body: Problem, level: 'warn' | 'info') => void;

const logEachShed: ShedLog = (request, body, level) =>
  request.log[level]({ code: body.code, status: body.status, detail: body.detail }, 'request shed');

/**
 * The plugin's error handler, as {@link problemErrorHandler} but with planned refusals (a shed 5xx, a 429)
 * logged once per burst: the first of a code is logged, the next ones within `window` ms only counted, and
 * the next logged one says how many it stood for. An outage, or a client over its quota, answered a thousand
 * times a second is one line every ten seconds.
 *
 * @example
 * app.setErrorHandler(burstErrorHandler(clock));
 */
export function burstErrorHandler(clock: Clock, window = 10_000) {
  const once = inBursts(clock, window);
  const logShed: ShedLog = (request, body, level) =>
    once(body.code, (suppressed) => {
      const fields = { code: body.code, status: body.status, detail: body.detail, suppressed };
      request.log[level](
        fields,
        suppressed ? `request shed, and ${suppressed} more like it` : 'request shed',
      );
    });
  return function problemErrorHandlerInBursts(error: unknown, request: FastifyRequest, reply: FastifyReply) {
    return answer(error, request, reply, logShed);
  };
}

function answer(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  logShed: ShedLog,
): FastifyReply {
  const body = toProblem(error, request);
  // A planned 5xx (overload, open breaker, not ready, database away) is the system working as designed: no
  // stack trace, and no error-level flood during a spike.
  const planned = isHeadroomError(error) && body.status !== 500;
  if (body.status >= 500 && !planned) {
    request.log.error({ err: error, code: body.code }, 'request failed');
  } else if (body.status >= 500) {
    logShed(request, body, 'warn');
  } else if (body.status === 429) {
    logShed(request, body, 'info');
  } else {
    request.log.info({ code: body.code, status: body.status, detail: body.detail }, 'request rejected');
  }
  if (isHeadroomError(error)) reply.headers(error.headers);
  return sendProblem(reply, body);
}

/**
 * The plugin's not-found handler: 404 HR_ROUTE_NOT_FOUND naming the method and path.
 *
 * @example
 * app.setNotFoundHandler(routeNotFoundHandler);
 */
export function routeNotFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const detail = `no route for ${request.method} ${requestPath(request.url)}`;
  return sendProblem(reply, codeProblem(request, 'HR_ROUTE_NOT_FOUND', detail));
}

function toProblem(error: unknown, request: FastifyRequest): Problem {
  if (isHeadroomError(error)) {
    const status = isErrorStatus(error.status) ? error.status : 500;
    return problem(request, status, error.code, error.message, error.context);
  }
  const like: ErrorLike = typeof error === 'object' && error !== null ? error : {};
  const message = typeof like.message === 'string' ? like.message : '';
  if (like.code === 'FST_ERR_VALIDATION' || like.validationContext !== undefined) {
    const { field, detail, errors } = validationDetails(like.validationContext, like.validation, message);
    return codeProblem(request, 'HR_VALIDATION', detail, { field, errors });
  }
  const status = typeof like.statusCode === 'number' ? like.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code: FastifyErrorCode =
      (typeof like.code === 'string' && fastifyCodes[like.code]) || 'HR_BAD_REQUEST';
    const detail =
      (typeof like.code === 'string' && routerDetails[like.code]) || clientDetail(code, message, request);
    // A known Fastify code gets its own status from the table; an unknown 4xx keeps Fastify's status.
    return problem(
      request,
      code === 'HR_BAD_REQUEST' ? status : fastifyErrors.definitions[code].status,
      code,
      detail,
    );
  }
  return problem(request, 500, 'HR_INTERNAL', 'the server failed to handle this request');
}

function clientDetail(code: string, message: string, request: FastifyRequest): string {
  switch (code) {
    case fastifyErrorCodes.HR_MALFORMED_JSON:
      return 'the request body is empty or not valid JSON';
    case fastifyErrorCodes.HR_BODY_TOO_LARGE:
      return `the request body is larger than the limit of ${request.routeOptions.bodyLimit} bytes`;
    case fastifyErrorCodes.HR_UNSUPPORTED_MEDIA_TYPE:
      return `content-type ${String(request.headers['content-type'] ?? '(none)').slice(0, 100)} is not accepted here`;
    default:
      // 4xx messages are written for the client (Fastify's own, http-errors' `expose` convention).
      return message || 'the request was rejected';
  }
}

function isErrorStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 400 && status <= 599;
}
