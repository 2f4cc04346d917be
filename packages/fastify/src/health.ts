// Liveness, readiness and health endpoints (application/health+json), with a bounded readiness check.

import type { Clock, Timer } from '@headroom/core/clock';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { codeProblem, sendProblem } from './problem.ts';

/** Media type of health answers (draft-inadarei-api-health-check). */
export const healthContentType = 'application/health+json';

/**
 * The state of one dependency or resource, as a readiness function reports it under a name; the name is
 * `component:measurement` (`database:responseTime`, `breaker:enrichment`), or a bare component (`startup`,
 * answered as `startup:status`).
 */
export interface HealthCheck {
  status: 'pass' | 'warn' | 'fail';
  /** Why a check failed or warns, for operators. */
  output?: string;
  /** What was measured (a latency, a share), with `observedUnit`. */
  observedValue?: number;
  /** `ms`, `percent`, … */
  observedUnit?: string;
  /** `datastore`, `component` or `system`, as the draft names them. */
  componentType?: string;
}

/** One reading of `checks` in an answer (draft-inadarei-api-health-check: an array per `component:measurement`). */
export interface HealthReading extends HealthCheck {
  /** When `observedValue` was read (RFC 3339). */
  time?: string;
}

const rank = { pass: 0, warn: 1, fail: 2 } as const;

/** The worst status among `checks` (`pass` when there are none). */
export function worstStatus(checks: Record<string, HealthCheck>): HealthCheck['status'] {
  let worst: HealthCheck['status'] = 'pass';
  for (const check of Object.values(checks)) if (rank[check.status] > rank[worst]) worst = check.status;
  return worst;
}

/**
 * `checks` in the health+json draft's shape: `"component:measurement": [ reading ]`, a measured value stamped
 * with `time`.
 *
 * @example
 * draftChecks({ 'database:responseTime': { status: 'pass', observedValue: 2, observedUnit: 'ms' } }, now)
 */
export function draftChecks(
  checks: Record<string, HealthCheck>,
  time: string,
): Record<string, HealthReading[]> {
  const out: Record<string, HealthReading[]> = {};
  for (const [name, check] of Object.entries(checks)) {
    const key = name.includes(':') ? name : `${name}:status`;
    out[key] = [check.observedValue === undefined ? { ...check } : { ...check, time }];
  }
  return out;
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
 * `GET /health` (the worst check's status: `pass`, `warn` (degraded, 200) or `fail` (503), with version and the
 * checks in the health+json draft's shape). They log at `warn` only, so probes do not flood logs.
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
    const readings = draftChecks(checks, new Date(clock.now()).toISOString());
    if (ready) return reply.type(healthContentType).send({ status: 'pass', checks: readings });
    const failing = Object.keys(checks).filter((name) => checks[name]?.status === 'fail');
    const detail = `${service} is not ready${failing.length > 0 ? `: ${failing.join(', ')} failing` : ''}`;
    return sendProblem(reply, codeProblem(request, 'HR_NOT_READY', detail, { checks: readings }));
  });

  app.get('/health', { logLevel: 'warn', config: { overload: false } }, async (request, reply) => {
    const { ready, checks } = await checkReadiness(readiness, readinessTimeout, clock, request.log);
    // The worst check decides: `warn` is degraded (still serving, 200), `fail` is unhealthy (503); not ready is
    // `fail` whatever the checks say.
    const status = ready ? worstStatus(checks) : 'fail';
    return reply
      .code(status === 'fail' ? 503 : 200)
      .type(healthContentType)
      .send({ status, version, service, checks: draftChecks(checks, new Date(clock.now()).toISOString()) });
  });
}
