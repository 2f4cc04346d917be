// Codes that casebook's routes answer with; each one is documented in docs/errors.md.

import { defineErrors, type ErrorCodeOf } from '@headroom/core/errors';
import { fastifyErrors } from '@headroom/fastify';

/**
 * Casebook's own codes, on top of the plugin's (authentication, not found and not ready are the plugin's codes,
 * raised here with the same status): every code a route throws with `casebookErrors.create` is one of these.
 */
export const casebookErrors = defineErrors({
  ...fastifyErrors.definitions,
  HR_INVALID_CREDENTIALS: { status: 401, stack: false },
  HR_TENANT_MISMATCH: { status: 403, stack: false },
  HR_PRECONDITION_FAILED: { status: 412, stack: false },
  HR_INVALID_CURSOR: { status: 400, stack: false },
  HR_INVALID_REFERENCE: { status: 422, stack: false },
  /** PostgreSQL did not answer in time (pool wait, statement or answer timeout, refused or lost connection). */
  HR_DATABASE_UNAVAILABLE: { status: 503, stack: false },
  /** The export is not done (queued, running, failed or cancelled): there is no file to download yet. */
  HR_EXPORT_NOT_READY: { status: 409, stack: false },
  /** A feature is off for now (the SLO degrader or an operator turned its flag off): try again later. */
  HR_FEATURE_DISABLED: { status: 503, stack: false },
  /** Internal: the suggestions route turns it into a stale or partial answer; its cause keeps the stack. */
  HR_UPSTREAM_FAILED: { status: 502, stack: false },
});

/** One of the codes in {@link casebookErrors}. */
export type CasebookErrorCode = ErrorCodeOf<typeof casebookErrors>;
