// Codes of the slo module.

import { defineErrors } from '../errors/index.ts';

/** Codes of the slo module; every code here is documented in docs/errors.md. */
export const sloErrors = defineErrors({
  /** The spec file breaks its schema or its rules: the user's input, reported when it is loaded. */
  HR_SPEC_INVALID: { status: 400, stack: false },
});

/** The slo codes as constants. */
export const sloErrorCodes = sloErrors.codes;
