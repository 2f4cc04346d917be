// Codes of the config module.

import { defineErrors, type ErrorCodeOf } from '../errors/index.ts';

/** Codes of the config module; every code here is documented in docs/errors.md. */
export const configErrors = defineErrors({
  /**
   * The config file cannot be used: it does not parse, breaks the schema (an environment override included),
   * or cannot be read. Thrown by `createConfig` (a service does not start on a bad config); a later bad file is
   * only rejected, and the config in force stays.
   */
  HR_CONFIG_INVALID: { status: 400, stack: false },
});

/** The config codes as constants. */
export const configErrorCodes = configErrors.codes;

/** One of the codes in {@link configErrors}. */
export type ConfigErrorCode = ErrorCodeOf<typeof configErrors>;
