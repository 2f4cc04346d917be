// The error of a call its caller abandoned through an AbortSignal, and its guard; every module raises it.

import { commonErrors } from './codes.ts';
import { type HeadroomError, isHeadroomError } from './headroom-error.ts';

/**
 * The error to reject with when `signal` aborted: the reason itself when it already is a HeadroomError (an
 * outer timeout's HR_TIMEOUT stays HR_TIMEOUT), else HR_ABORTED with the reason as its cause.
 *
 * @example
 * if (signal.aborted) throw abortedError(signal);
 */
export function abortedError(signal: AbortSignal): HeadroomError {
  const reason: unknown = signal.reason;
  if (isHeadroomError(reason)) return reason;
  return commonErrors.create('HR_ABORTED', 'the operation was aborted by its caller', { cause: reason });
}

/**
 * True when the caller's AbortSignal ended the call (while it queued, waited for a retry or ran).
 *
 * @example
 * if (isAbortedError(e)) return; // the client went away; nothing to report
 */
export function isAbortedError(value: unknown): value is HeadroomError<'HR_ABORTED'> {
  return commonErrors.is(value, 'HR_ABORTED');
}
