export { commonErrorCodes } from './codes.ts';
export type { HeadroomErrorOptions } from './headroom-error.ts';
export { HeadroomError, isHeadroomError } from './headroom-error.ts';
