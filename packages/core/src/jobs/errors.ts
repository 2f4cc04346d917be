// Codes of the jobs module; every code here is documented in docs/errors.md.

import { defineErrors, type ErrorCodeOf } from '../errors/index.ts';

/** What the job queue raises: to a caller (a paused queue) or as a job's abort reason. */
export const jobErrors = defineErrors({
  /** The queue is paused (its kill switch is on): new work of this kind is refused for now. */
  HR_JOB_QUEUE_PAUSED: { status: 503, stack: false },
  /** A job ran past its time limit; its handler's signal was aborted with this error. */
  HR_JOB_TIMEOUT: { status: 500, stack: false },
  /** A running job was cancelled, or lost its lease; its handler's signal was aborted with this error. */
  HR_JOB_CANCELLED: { status: 409, stack: false },
  /** The worker is stopping and gave the job back to the queue; its handler's signal was aborted with this error. */
  HR_JOB_RELEASED: { status: 503, stack: false },
  /**
   * Thrown by a handler (`postponeJob(ms)`): not a failure; the job goes back to the queue for later, its attempt
   * not counted (the dependency it needs is known to be away: a webhook endpoint whose circuit is open).
   */
  HR_JOB_POSTPONED: { status: 503, stack: false },
});

/** One of the codes in {@link jobErrors}. */
export type JobErrorCode = ErrorCodeOf<typeof jobErrors>;

/**
 * The error a handler throws to put its job back for `ms` milliseconds without spending an attempt.
 *
 * @example
 * if (breaker.state === 'open') throw postponeJob(breaker.stats().probeAt! - clock.now());
 */
export function postponeJob(ms: number, message = `postponed for ${Math.round(ms)} ms`): Error {
  return jobErrors.create('HR_JOB_POSTPONED', message, {
    context: { retryAfterMs: Math.max(0, Math.round(ms)) },
  });
}
