export { abortedError, isAbortedError } from './aborted.ts';
export type { CommonErrorCode } from './codes.ts';
export { commonErrorCodes, commonErrors } from './codes.ts';
export type {
  ErrorCodeOf,
  ErrorDefinition,
  ErrorDefinitions,
  ErrorDetails,
  ErrorTable,
} from './define-errors.ts';
export { defineErrors, isErrorTable } from './define-errors.ts';
export type { HeadroomErrorOptions } from './headroom-error.ts';
export { HeadroomError, isHeadroomError } from './headroom-error.ts';
export { deprecatedOption, invalidOption } from './option-errors.ts';
