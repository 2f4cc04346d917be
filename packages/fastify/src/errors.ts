// Codes that @headroom/fastify answers with; each one is documented in docs/errors.md.

import { defineErrors, type ErrorCodeOf } from '@headroom/core/errors';

/**
 * The problem codes this plugin produces on its own (HeadroomErrors thrown by routes keep their own code).
 * Every one is a client error or a planned refusal, so none captures a stack trace.
 *
 * @example
 * if (body.code === fastifyErrors.codes.HR_VALIDATION) showFieldError(body.errors[0].field);
 */
export const fastifyErrors = defineErrors({
  HR_VALIDATION: { status: 400, stack: false },
  HR_MALFORMED_JSON: { status: 400, stack: false },
  HR_BODY_TOO_LARGE: { status: 413, stack: false },
  HR_UNSUPPORTED_MEDIA_TYPE: { status: 415, stack: false },
  /** 400, or the 4xx status the HTTP layer itself chose for a malformed request. */
  HR_BAD_REQUEST: { status: 400, stack: false },
  HR_ROUTE_NOT_FOUND: { status: 404, stack: false },
  HR_URI_TOO_LONG: { status: 414, stack: false },
  HR_METHOD_NOT_ALLOWED: { status: 405, stack: false },
  HR_REQUEST_TIMEOUT: { status: 408, stack: false },
  HR_EXPECTATION_FAILED: { status: 417, stack: false },
  HR_HEADERS_TOO_LARGE: { status: 431, stack: false },
  HR_NOT_READY: { status: 503, stack: false },
  HR_OVERLOADED: { status: 503, stack: false },
  HR_SHUTTING_DOWN: { status: 503, stack: false },
  // Raised by the admin API and the `/metrics` guard; a service's own authentication may raise them too.
  HR_UNAUTHENTICATED: { status: 401, stack: false },
  HR_FORBIDDEN: { status: 403, stack: false },
  HR_NOT_FOUND: { status: 404, stack: false },
  // Raised by the RUM beacon route (`rum` option): a beacon naming a journey the service does not measure.
  HR_UNKNOWN_JOURNEY: { status: 422, stack: false },
});

/** One of the codes in {@link fastifyErrors}. */
export type FastifyErrorCode = ErrorCodeOf<typeof fastifyErrors>;

/** The codes of {@link fastifyErrors} as constants. */
export const fastifyErrorCodes = fastifyErrors.codes;
