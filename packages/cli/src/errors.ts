// Codes of the headroom CLI; every code here is documented in docs/errors.md.

import { defineErrors } from '@headroom/core/errors';

export const cliErrors = defineErrors({
  /** A scenario file breaks its schema or its rules: the user's input, reported with its path. */
  HR_SCENARIO_INVALID: { status: 400, stack: false },
});

/** The CLI codes as constants. */
export const cliErrorCodes = cliErrors.codes;
