// One step of a flow: render it, send it, check it, capture from it.

import { JSONPath } from 'jsonpath-plus';
import type { Step } from '../scenario/scenario.ts';
import { render, renderDeep, renderPath, type TemplateContext } from '../scenario/template.ts';
import type { ServerTimingPhases } from './server-timing.ts';
import { exchange, type RequestParts, type Transport } from './transport.ts';

export interface StepOutcome {
  method: string;
  path: string;
  /** When the generator issued the request (late when after its intended start: the generator fell behind). */
  issuedMs: number;
  /** When the request went onto a socket (later than issued when the connection pool was busy). */
  sentMs: number;
  doneMs: number;
  status?: number;
  checkFailed: boolean;
  /** Variables captured from the answer. */
  captured: Record<string, unknown>;
  /** A `poll` step whose answer does not meet `until` yet (its status passed). */
  pending?: boolean;
  /** The route's budgeted phases from the answer's `Server-Timing`, when asked for and sent. */
  timings?: Float64Array;
  error?: string;
}

/**
 * The request `step` makes in `context`: path, headers (lower-case names) and JSON body rendered.
 *
 * @example
 * renderRequest({ method: 'GET', path: '/v1/cases/${id}' }, { values: { id: 7 }, random })
 * // { method: 'GET', path: '/v1/cases/7', headers: {} }
 */
export function renderRequest(step: Step, context: TemplateContext): RequestParts {
  // Text with no `${...}` renders as itself: the check is cheaper than the template's regular expression.
  const path = step.path.includes('${') ? renderPath(step.path, context) : step.path;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(step.headers ?? {}))
    headers[key.toLowerCase()] =
      typeof value === 'string' && !value.includes('${') ? value : String(render(value, context));
  if (step.json === undefined) return { method: step.method, path, headers };
  const body = JSON.stringify(renderDeep(step.json, context));
  headers['content-type'] ??= 'application/json';
  return { method: step.method, path, headers, body };
}

/** Whether `status` passes `step`'s check: one of `step.status` when given, else any status below 400. */
export function statusPasses(step: Step, status: number): boolean {
  return step.status ? step.status.includes(status) : status < 400;
}

/**
 * Renders `step`, sends it through `transport`, checks and captures from the answer; never throws (a
 * failure is an outcome).
 *
 * @example
 * const outcome = await sendStep(transport, step, context, () => performance.now() - t0);
 */
export async function sendStep(
  transport: Transport,
  step: Step,
  context: TemplateContext,
  now: () => number,
  /** The request already rendered (a poll sends the same one again, random picks and all). */
  rendered?: ReturnType<typeof renderRequest>,
  /** The phases to read from `Server-Timing` for a request to `path` (its route's budgeted ones). */
  phasesOf?: (path: string) => ServerTimingPhases | undefined,
): Promise<StepOutcome> {
  const issuedMs = now();
  let request: ReturnType<Transport['prepare']>;
  try {
    request = transport.prepare(rendered ?? renderRequest(step, context));
  } catch (error) {
    return failure(step, step.path, error as Error, issuedMs, issuedMs, now());
  }
  const wantsBody = step.capture !== undefined || step.expect !== undefined || step.poll !== undefined;
  const { path } = request;
  const answer = await exchange(transport, request, wantsBody, phasesOf?.(path));
  if (answer.status === undefined)
    return failure(step, path, answer.error!, issuedMs, answer.sentMs, answer.doneMs);
  const { status, sentMs, doneMs, timings } = answer;
  const expected = statusPasses(step, status);
  const captured: Record<string, unknown> = {};
  let checkFailed = !expected;
  const json = wantsBody && expected ? safeJson(answer.body?.toString('utf8') ?? '') : undefined;
  if (!holds(json, step.expect)) checkFailed = true;
  const pending = step.poll !== undefined && expected && !holds(json, step.poll.until);
  if (step.capture && expected) {
    for (const [name, query] of Object.entries(step.capture)) {
      const value = json === undefined ? undefined : JSONPath({ path: query, json, wrap: false });
      if (value === undefined) checkFailed = true;
      else captured[name] = value;
    }
  }
  const outcome: StepOutcome = {
    method: step.method,
    path,
    issuedMs,
    sentMs,
    doneMs,
    status,
    checkFailed,
    captured,
  };
  if (pending) outcome.pending = pending;
  if (timings) outcome.timings = timings;
  return outcome;
}

/** The outcome of a request that got no answer (or could not be sent). */
function failure(
  step: Step,
  path: string,
  error: Error,
  issuedMs: number,
  sentMs: number,
  doneMs: number,
): StepOutcome {
  return {
    method: step.method,
    path,
    issuedMs,
    sentMs,
    doneMs,
    checkFailed: true,
    captured: {},
    error: error.message,
  };
}

/** Whether every JSONPath of `conditions` finds its value (or, for `exists`, anything) in `json`. */
function holds(json: object | undefined, conditions: Record<string, unknown> | undefined): boolean {
  for (const [query, want] of Object.entries(conditions ?? {})) {
    const found = json === undefined ? undefined : JSONPath({ path: query, json, wrap: false });
    const ok = want === 'exists' ? found !== undefined : JSON.stringify(found) === JSON.stringify(want);
    if (!ok) return false;
  }
  return true;
}

function safeJson(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}
