// Codes the operations page answers with besides the plugin's own (fastifyErrors); documented in docs/errors.md.

import { defineErrors, type ErrorCodeOf } from '@headroom/core/errors';

/**
 * The operations page's codes: a planned refusal each, so none captures a stack trace.
 *
 * @example
 * if (body.code === opsPageErrors.codes.HR_CSRF) location.reload();
 */
export const opsPageErrors = defineErrors({
  /** An action without the page's CSRF token, with a wrong one, or sent from another origin. */
  HR_CSRF: { status: 403, stack: false },
});

/** One of the codes in {@link opsPageErrors}. */
export type OpsPageErrorCode = ErrorCodeOf<typeof opsPageErrors>;

export { notFound } from '../controls/not-found.ts';
