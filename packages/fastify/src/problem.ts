// RFC 9457 problem details: the one shape of every non-2xx answer the plugin writes.

import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type FastifyErrorCode, fastifyErrors } from './errors.ts';

/** Media type of a problem body (RFC 9457). */
export const problemContentType = 'application/problem+json';

/** The members every Headroom problem carries; `extra` members follow them. */
export interface Problem {
  /** `urn:headroom:problem:<code>`. */
  type: string;
  /** The HTTP reason phrase of `status`. */
  title: string;
  status: number;
  /** What went wrong, in words meant for the caller. */
  detail: string;
  /** The stable `HR_*` code. */
  code: string;
  /** The request path (without the query string). */
  instance: string;
  request_id: string;
  [member: string]: unknown;
}

const reserved = new Set(['type', 'title', 'status', 'detail', 'code', 'instance', 'request_id']);

/**
 * Builds a problem body for `request`; `extra` members cannot overwrite the standard ones.
 *
 * @example
 * const body = problem(request, 404, 'HR_NOT_FOUND', 'case 5 not found', { id: 5 });
 */
export function problem(
  request: FastifyRequest,
  status: number,
  code: string,
  detail: string,
  extra?: Record<string, unknown>,
): Problem {
  const body: Problem = {
    type: `urn:headroom:problem:${code}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    instance: requestPath(request.url),
    request_id: request.id,
  };
  if (extra) {
    for (const key of Object.keys(extra)) {
      if (!reserved.has(key)) body[key] = extra[key];
    }
  }
  return body;
}

/**
 * A problem with one of the plugin's own codes, at the status its table gives.
 *
 * @example
 * sendProblem(reply, codeProblem(request, 'HR_METHOD_NOT_ALLOWED', 'use GET'));
 */
export function codeProblem(
  request: FastifyRequest,
  code: FastifyErrorCode,
  detail: string,
  extra?: Record<string, unknown>,
): Problem {
  return problem(request, fastifyErrors.definitions[code].status, code, detail, extra);
}

/**
 * A problem written where no request object exists (Node's `clientError`, `checkExpectation`): the members
 * of {@link problem} but `request_id`, serialized.
 *
 * @example
 * const { status, body } = bareProblem('HR_REQUEST_TIMEOUT', 'the request did not arrive in time');
 */
export function bareProblem(
  code: FastifyErrorCode,
  detail: string,
  instance?: string,
): { status: number; body: string } {
  const { status } = fastifyErrors.definitions[code];
  const body = JSON.stringify({
    type: `urn:headroom:problem:${code}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(instance === undefined ? {} : { instance }),
  });
  return { status, body };
}

/**
 * Sends `body` as `application/problem+json` with its status (Fastify appends `; charset=utf-8`, as it does
 * to every JSON type), `Cache-Control: no-store` and `Vary: authorization`: a problem names one request and
 * may depend on the caller, so no cache may keep it, nor hand it to another caller if it ignores no-store.
 * The body is serialised here, so a route's response schema can never strip members.
 *
 * @example
 * return sendProblem(reply, problem(request, 503, 'HR_NOT_READY', 'not ready'));
 */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply
    .code(body.status)
    .header('cache-control', 'no-store')
    .header('vary', 'authorization')
    .type(problemContentType)
    .send(JSON.stringify(body));
}

/**
 * The path part of a request URL.
 *
 * @example
 * requestPath('/v1/cases?limit=5'); // '/v1/cases'
 */
export function requestPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
