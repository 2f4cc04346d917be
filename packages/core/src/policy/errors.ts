// Codes of the policy module, and guards that recognise them across duplicate installs of @headroom/core.

import { commonErrors, defineErrors, type ErrorCodeOf, type HeadroomError } from '../errors/index.ts';

/** Codes the policies reject with; every code here is documented in docs/errors.md. */
export const policyErrors = defineErrors({
  HR_TIMEOUT: { status: 504, stack: false },
  HR_CIRCUIT_OPEN: { status: 503, stack: false },
  HR_CIRCUIT_ISOLATED: { status: 503, stack: false },
  HR_BULKHEAD_FULL: { status: 503, stack: false },
  HR_BULKHEAD_QUEUE_TIMEOUT: { status: 503, stack: false },
});

/** One of the codes in {@link policyErrors}. */
export type PolicyErrorCode = ErrorCodeOf<typeof policyErrors>;

/**
 * The policy codes as constants.
 * @deprecated `HR_ABORTED` moved to `commonErrorCodes` (`@headroom/core/errors`); use `policyErrors.codes`
 * for the others. Kept for one release.
 */
export const policyErrorCodes = { ...policyErrors.codes, HR_ABORTED: commonErrors.codes.HR_ABORTED } as const;

/**
 * True when a `timeout` policy gave up on the call at its deadline.
 *
 * @example
 * try { await policy.execute(load); } catch (e) { if (isTimeoutError(e)) metrics.timeouts.inc(); }
 */
export function isTimeoutError(value: unknown): value is HeadroomError<'HR_TIMEOUT'> {
  return policyErrors.is(value, 'HR_TIMEOUT');
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
export function isBrokenCircuitError(
  value: unknown,
): value is HeadroomError<'HR_CIRCUIT_OPEN' | 'HR_CIRCUIT_ISOLATED'> {
  return policyErrors.is(value, 'HR_CIRCUIT_OPEN') || policyErrors.is(value, 'HR_CIRCUIT_ISOLATED');
}

/**
 * True when a circuit breaker refused the call because an operator isolated it.
 *
 * @example
 * if (isIsolatedCircuitError(e)) log.info('upstream isolated by an operator');
 */
export function isIsolatedCircuitError(value: unknown): value is HeadroomError<'HR_CIRCUIT_ISOLATED'> {
  return policyErrors.is(value, 'HR_CIRCUIT_ISOLATED');
}

/**
 * True when a bulkhead refused the call: its queue was full, or the call waited longer than the queue timeout.
 *
 * @example
 * if (isBulkheadRejectedError(e)) reply.code(503).header('retry-after', '1');
 */
export function isBulkheadRejectedError(
  value: unknown,
): value is HeadroomError<'HR_BULKHEAD_FULL' | 'HR_BULKHEAD_QUEUE_TIMEOUT'> {
  return policyErrors.is(value, 'HR_BULKHEAD_FULL') || policyErrors.is(value, 'HR_BULKHEAD_QUEUE_TIMEOUT');
}
