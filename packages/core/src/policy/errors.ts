// Codes of the policy module, and guards that recognise them across duplicate installs of @headroom/core.

import { HeadroomError, isHeadroomError } from '../errors/index.ts';

/** Codes the policies reject with; every code here is documented in docs/errors.md. */
export const policyErrorCodes = {
  HR_TIMEOUT: 'HR_TIMEOUT',
  HR_ABORTED: 'HR_ABORTED',
  HR_CIRCUIT_OPEN: 'HR_CIRCUIT_OPEN',
  HR_CIRCUIT_ISOLATED: 'HR_CIRCUIT_ISOLATED',
  HR_BULKHEAD_FULL: 'HR_BULKHEAD_FULL',
  HR_BULKHEAD_QUEUE_TIMEOUT: 'HR_BULKHEAD_QUEUE_TIMEOUT',
} as const;

const hasCode = (value: unknown, code: string): value is HeadroomError =>
  isHeadroomError(value) && value.code === code;

/**
 * True when a `timeout` policy gave up on the call at its deadline.
 *
 * @example
 * try { await policy.execute(load); } catch (e) { if (isTimeoutError(e)) metrics.timeouts.inc(); }
 */
export function isTimeoutError(value: unknown): value is HeadroomError {
  return hasCode(value, policyErrorCodes.HR_TIMEOUT);
}

/**
 * True when the caller's AbortSignal ended the call (while it queued, waited for a retry or ran).
 *
 * @example
 * if (isAbortedError(e)) return; // the client went away; nothing to report
 */
export function isAbortedError(value: unknown): value is HeadroomError {
  return hasCode(value, policyErrorCodes.HR_ABORTED);
}

/**
 * True when a circuit breaker refused the call: open, half-open with every probe taken, or isolated.
 *
 * @example
 * const suggestions = await breaker.execute(fetchSuggestions).catch((e) => {
 *   if (isBrokenCircuitError(e)) return cachedSuggestions;
 *   throw e;
 * });
 */
export function isBrokenCircuitError(value: unknown): value is HeadroomError {
  return (
    hasCode(value, policyErrorCodes.HR_CIRCUIT_OPEN) || hasCode(value, policyErrorCodes.HR_CIRCUIT_ISOLATED)
  );
}

/**
 * True when a circuit breaker refused the call because an operator isolated it.
 *
 * @example
 * if (isIsolatedCircuitError(e)) log.info('upstream isolated by an operator');
 */
export function isIsolatedCircuitError(value: unknown): value is HeadroomError {
  return hasCode(value, policyErrorCodes.HR_CIRCUIT_ISOLATED);
}

/**
 * True when a bulkhead refused the call: its queue was full, or the call waited longer than the queue timeout.
 *
 * @example
 * if (isBulkheadRejectedError(e)) reply.code(503).header('retry-after', '1');
 */
export function isBulkheadRejectedError(value: unknown): value is HeadroomError {
  return (
    hasCode(value, policyErrorCodes.HR_BULKHEAD_FULL) ||
    hasCode(value, policyErrorCodes.HR_BULKHEAD_QUEUE_TIMEOUT)
  );
}

/**
 * The error a policy rejects with when `signal` aborted: the reason itself when it already is a HeadroomError
 * (an outer timeout's HR_TIMEOUT stays HR_TIMEOUT), else HR_ABORTED with the reason as its cause.
 *
 * @example
 * if (signal.aborted) throw abortedError(signal);
 */
export function abortedError(signal: AbortSignal): HeadroomError {
  const reason: unknown = signal.reason;
  if (isHeadroomError(reason)) return reason;
  return new HeadroomError(policyErrorCodes.HR_ABORTED, 'the operation was aborted by its caller', {
    status: 499,
    cause: reason,
  });
}
