// Codes that any part of Headroom may raise; each module declares its own in its errors.ts.

import { defineErrors } from './define-errors.ts';

/** Codes shared across modules; every code here is documented in docs/errors.md. */
export const commonErrors = defineErrors({
  /** A fault nobody planned for; the answer says nothing of its cause. */
  HR_INTERNAL: { status: 500, stack: true },
  /** A component was built with an option it cannot use: a programming error, raised at start-up. */
  HR_INVALID_OPTION: { status: 500, stack: true },
  /** The caller's AbortSignal ended the call (client gone, outer timeout, a hedge that lost). */
  HR_ABORTED: { status: 499, stack: false },
});

/** The codes of {@link commonErrors} as constants. */
export const commonErrorCodes = commonErrors.codes;

/** One of the codes in {@link commonErrors}. */
export type CommonErrorCode = keyof typeof commonErrorCodes;
