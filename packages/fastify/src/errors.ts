// Codes that @headroom/fastify answers with; each one is documented in docs/errors.md.

/**
 * The problem codes this plugin produces on its own (HeadroomErrors thrown by routes keep their own code).
 *
 * @example
 * if (body.code === fastifyErrorCodes.HR_VALIDATION) showFieldError(body.errors[0].field);
 */
export const fastifyErrorCodes = {
  HR_VALIDATION: 'HR_VALIDATION',
  HR_MALFORMED_JSON: 'HR_MALFORMED_JSON',
  HR_BODY_TOO_LARGE: 'HR_BODY_TOO_LARGE',
  HR_UNSUPPORTED_MEDIA_TYPE: 'HR_UNSUPPORTED_MEDIA_TYPE',
  HR_BAD_REQUEST: 'HR_BAD_REQUEST',
  HR_ROUTE_NOT_FOUND: 'HR_ROUTE_NOT_FOUND',
  HR_NOT_READY: 'HR_NOT_READY',
  HR_OVERLOADED: 'HR_OVERLOADED',
  HR_METHOD_NOT_ALLOWED: 'HR_METHOD_NOT_ALLOWED',
  HR_REQUEST_TIMEOUT: 'HR_REQUEST_TIMEOUT',
  HR_HEADERS_TOO_LARGE: 'HR_HEADERS_TOO_LARGE',
  HR_SHUTTING_DOWN: 'HR_SHUTTING_DOWN',
  HR_EXPECTATION_FAILED: 'HR_EXPECTATION_FAILED',
  HR_UNAUTHENTICATED: 'HR_UNAUTHENTICATED',
  HR_FORBIDDEN: 'HR_FORBIDDEN',
  HR_NOT_FOUND: 'HR_NOT_FOUND',
} as const;

/** One of the codes in {@link fastifyErrorCodes}. */
export type FastifyErrorCode = (typeof fastifyErrorCodes)[keyof typeof fastifyErrorCodes];
