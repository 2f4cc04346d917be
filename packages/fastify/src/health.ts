// Liveness, readiness and health endpoints (application/health+json), with a bounded readiness check.

import type { Clock, Timer } from '@headroom/core/clock';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { codeProblem, sendProblem } from './problem.ts';

/** Media type of health answers (draft-inadarei-api-health-check). */
export const healthContentType = 'application/health+json';

/** The state of one dependency, as reported under `checks`. */
export interface HealthCheck {
  status: 'pass' | 'warn' | 'fail';
  /** Why a check failed or warns, for operators. */
  output?: string;
}

/** What a readiness function answers: may this instance take traffic, and why (not). */
export interface ReadinessResult {
  ready: boolean;
  checks?: Record<string, HealthCheck>;
}

/** Checks the dependencies; `signal` aborts when the check has taken too long. */
export type Readiness = (signal: AbortSignal) => ReadinessResult | Promise<ReadinessResult>;

/** What {@link healthRoutes} needs. */
export interface HealthRoutesOptions {
  service: string;
  version: string;
  readiness: Readiness | undefined;
  readinessTimeout: number;
  clock: Clock;
}

/**
 * Runs `readiness` within `timeoutMs`. A check that throws, hangs or answers nonsense means "not ready",
 * never an error; the thrown error is logged, not returned (it may name hosts or credentials).
 *
 * @example
 * const { ready, checks } = await checkReadiness(readiness, 2000, systemClock(), app.log);
 */
export async function checkReadiness(
  readiness: Readiness | undefined,
  timeoutMs: number,
  clock: Clock,
  log: FastifyBaseLogger,
): Promise<Required<ReadinessResult>> {
  if (!readiness) return { ready: true, checks: {} };
  const controller = new AbortController();
  let timer: Timer | undefined;
  const timedOut = new Promise<ReadinessResult>((resolve) => {
    timer = clock.setTimeout(() => {
      controller.abort(new Error(`readiness check took longer than ${timeoutMs} ms`));
      resolve(failed(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const answer = Promise.resolve().then(() => readiness(controller.signal));
    const result = await Promise.race([answer, timedOut]);
    return { ready: result.ready === true, checks: result.checks ?? {} };
  } catch (error) {
    log.warn({ err: error }, 'readiness check threw');
    return failed('the readiness check threw; see the service log');
  } finally {
    timer?.cancel();
  }
}

function failed(output: string): Required<ReadinessResult> {
  return { ready: false, checks: { readiness: { status: 'fail', output } } };
}

/**
 * Adds `GET /health/live` (always pass, no I/O), `GET /health/ready` (200 or 503 HR_NOT_READY problem) and
 * `GET /health` (pass, warn or fail with version and checks: `warn` when ready but a check warns, degraded). They log at `warn` only, so probes do not flood logs.
 *
 * @example
 * healthRoutes(app, { service: 'casebook', version: '1.0.0', readiness, readinessTimeout: 2000, clock });
 */
export function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): void {
  const { service, version, readiness, readinessTimeout, clock } = options;
  const live = JSON.stringify({ status: 'pass' });

  app.get('/health/live', { logLevel: 'warn', config: { overload: false } }, async (_request, reply) => {
    return reply.type(healthContentType).send(live);
  });

  app.get('/health/ready', { logLevel: 'warn', config: { overload: false } }, async (request, reply) => {
    const { ready, checks } = await checkReadiness(readiness, readinessTimeout, clock, request.log);
    if (ready) return reply.type(healthContentType).send({ status: 'pass', checks });
    const failing = Object.keys(checks).filter((name) => checks[name]?.status === 'fail');
    const detail = `${service} is not ready${failing.length > 0 ? `: ${failing.join(', ')} failing` : ''}`;
    return sendProblem(reply, codeProblem(request, 'HR_NOT_READY', detail, { checks }));
  });

  app.get('/health', { logLevel: 'warn', config: { overload: false } }, async (request, reply) => {
    const { ready, checks } = await checkReadiness(readiness, readinessTimeout, clock, request.log);
    // Ready but with a check that warns (an optional breaker open, a cache tier down): degraded, still 200.
    const degraded = Object.values(checks).some((check) => check?.status === 'warn');
    const status = ready ? (degraded ? 'warn' : 'pass') : 'fail';
    return reply
      .code(ready ? 200 : 503)
      .type(healthContentType)
      .send({ status, version, service, checks });
  });
}
