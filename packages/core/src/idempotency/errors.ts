// Codes of the idempotency module; every code here is documented in docs/errors.md.

import { defineErrors, type ErrorCodeOf } from '../errors/index.ts';

/** Refusals of a request that carries (or lacks) an Idempotency-Key, none with a stack. */
export const idempotencyErrors = defineErrors({
  /** The route requires an Idempotency-Key and the request has none. */
  HR_IDEMPOTENCY_KEY_MISSING: { status: 400, stack: false },
  /** The header is not a structured-field string of 1 to 255 characters. */
  HR_IDEMPOTENCY_KEY_INVALID: { status: 400, stack: false },
  /** A request with the same key is still being processed. */
  HR_IDEMPOTENCY_IN_FLIGHT: { status: 409, stack: false },
  /** The key was used before with another request (another body, path or query). */
  HR_IDEMPOTENCY_KEY_REUSED: { status: 422, stack: false },
  /** The store of keys could not be read (its database is down or stalled): nothing was done. */
  HR_IDEMPOTENCY_UNAVAILABLE: { status: 503, stack: false },
});

/** One of the codes in {@link idempotencyErrors}. */
export type IdempotencyErrorCode = ErrorCodeOf<typeof idempotencyErrors>;
