// Per-request phase timings (auth, rate limit, cache, database, upstream, serialization) and the trace of the same
// work. The plugin gives every request a `RequestTiming` and runs the rest of the request inside it (an
// AsyncLocalStorage), so code far from the request (a database wrapper, a cache read) can add to it without being
// handed the request. `phase()` times a piece of work into it and, when the request is traced, wraps the work in a
// child span; `traceEvent()` records a decision (a rate-limit verdict, a cache result, a breaker refusal) on the
// active span. With no OpenTelemetry SDK registered, `trace.getActiveSpan()` is undefined and both cost a lookup.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from '@headroom/core/clock';
import { type Attributes, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/** What a timing's route is read from: a Fastify request (its method and the template it matched). */
export interface RoutedRequest {
  readonly method: string;
  readonly routeOptions: { readonly url?: string | undefined };
}

/** Where one request spent its time, by phase (self time in ms: a phase nested in another counts once). */
export class RequestTiming {
  readonly clock: Clock;
  #phases: Record<string, number> | undefined;
  #counted = 0;
  #request: RoutedRequest | undefined;
  /** null until the route is first read. */
  #route: string | undefined | null = null;
  /** When serialization started (monotonic ms), set by the plugin's preSerialization hook. */
  serializeStart = -1;
  /** The request's trace and span ids when it was sampled (the latency histogram's exemplar). */
  traceId: string | undefined;
  spanId: string | undefined;

  /** Keeps the ids of the active span when it is sampled (true then); called as the answer is sent. */
  noteTrace(): boolean {
    const span = trace.getActiveSpan();
    if (span === undefined) return false;
    const { traceId, spanId, traceFlags } = span.spanContext();
    if ((traceFlags & 1) === 0) return false;
    this.traceId = traceId;
    this.spanId = spanId;
    return true;
  }

  constructor(clock: Clock, request?: RoutedRequest) {
    this.clock = clock;
    this.#request = request;
  }

  /**
   * The route the request matched (`GET /v1/cases/:id`), undefined when none did: see {@link currentRoute}.
   * Worked out from the request when first read (a database call reads it, a cache hit never does):
   * `request.routeOptions` makes a 12-field object on every access.
   */
  get route(): string | undefined {
    if (this.#route === null) {
      const template = this.#request?.routeOptions.url;
      this.#route = template === undefined ? undefined : `${this.#request!.method} ${template}`;
    }
    return this.#route;
  }

  set route(route: string | undefined) {
    this.#route = route;
  }

  /** Adds `ms` to `name` (a phase name: lower case, digits and `_`). */
  add(name: string, ms: number): void {
    const phases = this.#phases ?? {};
    this.#phases = phases;
    phases[name] = (phases[name] ?? 0) + ms;
    this.#counted += ms;
  }

  /** Every phase's ms so far; empty when none ran. */
  get phases(): Readonly<Record<string, number>> {
    return this.#phases ?? none;
  }

  /** Total ms added so far, over every phase (what `phase()` subtracts to get a phase's self time). */
  get counted(): number {
    return this.#counted;
  }

  /**
   * The `Server-Timing` value (W3C Server Timing): each phase with its ms, then `total` (`totalMs`).
   *
   * @example
   * timing.serverTiming(7.25); // 'auth;dur=0.41, db;dur=3.2, serialize;dur=0.12, total;dur=7.25'
   */
  serverTiming(totalMs: number): string {
    let value = '';
    for (const [name, ms] of Object.entries(this.phases)) value += `${name};dur=${round(ms)}, `;
    return `${value}total;dur=${round(totalMs)}`;
  }
}

const none: Readonly<Record<string, number>> = Object.freeze({});
const round = (ms: number) => Math.round(ms * 100) / 100;

const scope = new AsyncLocalStorage<RequestTiming>();

/** Where the plugin keeps a request's timing (`request[timingOf]`). */
export const timingOf: unique symbol = Symbol('headroom request timing');

/**
 * The route of the request being served (method and template, `GET /v1/cases/:id`), or undefined outside a
 * request: what a database layer tags its statements with (see `sqlComment`).
 *
 * @example
 * const text = `${sql} ${sqlComment({ route: currentRoute() })}`;
 */
export function currentRoute(): string | undefined {
  return scope.getStore()?.route;
}

/**
 * The timing of the request being served, or undefined outside a request; also what tells one request from
 * another (a statement recorder counts the statements of each).
 *
 * @example
 * const perRequest = new WeakMap<RequestTiming, number>();
 */
export function currentTiming(): RequestTiming | undefined {
  return scope.getStore();
}

/** Runs `next` (the rest of a request's hooks and handler) with `timing` as the current one. */
export function runTimed(timing: RequestTiming, next: () => void): void {
  scope.run(timing, next);
}

const tracer = () => trace.getTracer('@headroom/fastify');

/**
 * Runs `work` as phase `name` of the current request: its self time (minus phases that ran inside it) is added to
 * the request's timing, and, when the request is traced, it runs in a child span (named `spanName`, else `name`)
 * with `attributes` (only attributes on the exporter's allow-list leave the process). Outside a request it just
 * runs `work`.
 *
 * @example
 * const rows = await phase('db', () => client.query(sql, values), { 'db.operation.name': 'SELECT' }, 'case-search');
 */
export function phase<T>(
  name: string,
  work: () => Promise<T>,
  attributes?: Attributes,
  spanName: string = name,
): Promise<T> {
  const timing = scope.getStore();
  const parent = trace.getActiveSpan();
  if (parent?.isRecording()) {
    return tracer().startActiveSpan(spanName, attributes ? { attributes } : {}, (span) =>
      timed(timing, name, work, span),
    );
  }
  return timing === undefined ? work() : timed(timing, name, work, undefined);
}

/**
 * Runs synchronous `work` as phase `name` of the current request (no span: work this short is an event at most).
 *
 * @example
 * const hit = phaseSync('cache', () => cache.peekEntry(key));
 */
export function phaseSync<T>(name: string, work: () => T): T {
  const timing = scope.getStore();
  if (timing === undefined) return work();
  const started = timing.clock.monotonic();
  const before = timing.counted;
  try {
    return work();
  } finally {
    timing.add(name, Math.max(0, timing.clock.monotonic() - started - (timing.counted - before)));
  }
}

function timed<T>(
  timing: RequestTiming | undefined,
  name: string,
  work: () => Promise<T>,
  span: Span | undefined,
): Promise<T> {
  const started = timing?.clock.monotonic() ?? 0;
  const before = timing?.counted ?? 0;
  const settle = () => {
    if (timing !== undefined) {
      const elapsed = timing.clock.monotonic() - started;
      timing.add(name, Math.max(0, elapsed - (timing.counted - before)));
    }
    span?.end();
  };
  let running: Promise<T>;
  try {
    running = work();
  } catch (error) {
    span?.setStatus({ code: SpanStatusCode.ERROR });
    settle();
    return Promise.reject(error);
  }
  return running.then(
    (value) => {
      settle();
      return value;
    },
    (error: unknown) => {
      span?.setStatus({ code: SpanStatusCode.ERROR });
      span?.setAttribute('error.type', errorType(error));
      settle();
      throw error;
    },
  );
}

/** A stable error type for a span: a HeadroomError's code, else the error's class name. */
function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return code;
    return (error as Error).constructor?.name ?? 'Error';
  }
  return typeof error;
}

/**
 * Records a decision on the active span as an event (`headroom.ratelimit`, `headroom.cache`, …), when a span is
 * recording. `attributes` must hold no personal data: names, states, counts.
 *
 * @example
 * traceEvent('headroom.ratelimit', { 'headroom.policy': 'free', 'headroom.result': 'allowed' });
 */
export function traceEvent(name: string, attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.addEvent(name, attributes);
}

/** Sets attributes on the active span, when one is recording. */
export function traceAttributes(attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributes);
}

/**
 * pino `mixin`: `trace_id` and `span_id` of the active span on every log line written inside a traced request.
 *
 * @example
 * const app = Fastify({ logger: { mixin: traceLogFields } });
 */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  // pino merges the line's own fields into what this returns: always a fresh object.
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  // An unsampled span's ids name a trace no backend has: leave them out rather than send someone looking for it.
  if ((traceFlags & 1) === 0) return {};
  return { trace_id: traceId, span_id: spanId };
}

/** A callback-style hook (Fastify's `(request, reply, done)`). */
export type CallbackHook<R, P> = (request: R, reply: P, done: (error?: Error) => void) => void;

/**
 * `hook` with its time counted as phase `name` of the request (callback style kept: no promise per request).
 *
 * @example
 * api.addHook('onRequest', timedHook('auth', authenticate({ db, clock })));
 */
export function timedHook<R extends { [timingOf]?: RequestTiming | undefined }, P>(
  name: string,
  hook: CallbackHook<R, P>,
): CallbackHook<R, P> {
  return function timed(request, reply, done) {
    const timing = request[timingOf];
    if (timing === undefined) {
      hook(request, reply, done);
      return;
    }
    const started = timing.clock.monotonic();
    hook(request, reply, (error) => {
      timing.add(name, timing.clock.monotonic() - started);
      done(error);
    });
  };
}
