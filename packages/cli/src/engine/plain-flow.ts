// Flows whose requests never change (no `${...}`, no captures, no body checks): each request is rendered and
// serialized once, and an iteration runs on transport callbacks, one object for all its steps, no promise.

import type { Flow, Step } from '../scenario/scenario.ts';
import { renderRequest, statusPasses } from './request.ts';
import type { ServerTimingPhases } from './server-timing.ts';
import type { Exchange, PreparedRequest, Transport } from './transport.ts';

/** A step of a plain flow, ready to send. */
export interface PlainStep {
  readonly step: Step;
  readonly request: PreparedRequest;
  /** The route template its answers are recorded under. */
  readonly route: string;
  /** The route's budgeted phases, read from each answer's `Server-Timing`. */
  readonly phases: ServerTimingPhases | undefined;
}

/**
 * Records one answer of an iteration's step under `route`; `status` undefined when none came. Times on the
 * run's clock: the step was meant for `intendedMs`, issued at `issuedMs`, put on a socket at `sentMs`.
 * `timings`: the route's phases from the answer's `Server-Timing`, when it had one (valid during the call).
 */
export type RecordAnswer = (
  route: string,
  stage: number,
  intendedMs: number,
  issuedMs: number,
  sentMs: number,
  doneMs: number,
  status: number | undefined,
  checkFailed: boolean,
  timings?: Float64Array,
) => void;

const noValues = { values: {}, random: () => 0 };

/**
 * The flow's steps prepared once, or undefined when a step needs rendering per iteration or its answer's
 * body (or cannot be prepared: the per-request path then reports why, every time).
 *
 * @example
 * const steps = compilePlainFlow(flow, transport, (method, path) => `${method} ${path}`);
 */
export function compilePlainFlow(
  flow: Flow,
  transport: Transport,
  nameRoute: (method: string, path: string, written: string) => string,
  phasesOf: (route: string) => ServerTimingPhases | undefined = () => undefined,
): PlainStep[] | undefined {
  const steps: PlainStep[] = [];
  for (const step of flow.steps) {
    if (step.capture !== undefined || step.expect !== undefined || step.poll !== undefined) return undefined;
    if (JSON.stringify([step.path, step.headers, step.json]).includes('${')) return undefined;
    let request: PreparedRequest;
    try {
      request = transport.prepare(renderRequest(step, noValues));
    } catch {
      return undefined;
    }
    const route = nameRoute(step.method, request.path, step.path);
    steps.push({ step, request, route, phases: phasesOf(route) });
  }
  return steps.length > 0 ? steps : undefined;
}

/**
 * One iteration of a plain flow: each step starts when the previous one answered, and the iteration stops at
 * the first failed check.
 *
 * @example
 * new PlainIteration(steps, 0, intendedMs, transport, record, now, onEnd).start(now());
 */
export class PlainIteration implements Exchange {
  request: PreparedRequest;
  phases: ServerTimingPhases | undefined;
  readonly keepBody = false;
  readonly #steps: readonly PlainStep[];
  readonly #stage: number;
  readonly #transport: Transport;
  readonly #record: RecordAnswer;
  readonly #now: () => number;
  readonly #onEnd: () => void;
  #index = 0;
  #intendedMs: number;
  #issuedMs = 0;

  constructor(
    steps: readonly PlainStep[],
    stage: number,
    intendedMs: number,
    transport: Transport,
    record: RecordAnswer,
    now: () => number,
    onEnd: () => void,
  ) {
    this.#steps = steps;
    this.#stage = stage;
    this.#intendedMs = intendedMs;
    this.#transport = transport;
    this.#record = record;
    this.#now = now;
    this.#onEnd = onEnd;
    this.request = steps[0]!.request;
    this.phases = steps[0]!.phases;
  }

  /** Sends the first step, issued at `issuedMs`. */
  start(issuedMs: number): void {
    this.#issuedMs = issuedMs;
    this.#transport.send(this);
  }

  onResponse(
    status: number,
    _body: Buffer | undefined,
    sentMs: number,
    doneMs: number,
    timings?: Float64Array,
  ): void {
    const failed = !statusPasses(this.#steps[this.#index]!.step, status);
    this.#answer(sentMs, doneMs, status, failed, timings);
    const next = this.#steps[++this.#index];
    if (failed || !next) {
      this.#onEnd();
      return;
    }
    // The next step of an iteration is meant to start as soon as this one answered.
    this.request = next.request;
    this.phases = next.phases;
    this.#intendedMs = doneMs;
    this.#issuedMs = this.#now();
    this.#transport.send(this);
  }

  onError(_error: Error, sentMs: number, doneMs: number): void {
    this.#answer(sentMs, doneMs, undefined, true);
    this.#onEnd();
  }

  #answer(
    sentMs: number,
    doneMs: number,
    status: number | undefined,
    failed: boolean,
    timings?: Float64Array,
  ): void {
    const { route } = this.#steps[this.#index]!;
    this.#record(
      route,
      this.#stage,
      this.#intendedMs,
      this.#issuedMs,
      sentMs,
      doneMs,
      status,
      failed,
      timings,
    );
  }
}
