// `@headroom/fastify/otel`: OpenTelemetry tracing for a Fastify service, configured by the standard OTEL_*
// environment variables and by the service's headroom.yaml.
//
// What it adds to the Node SDK and @fastify/otel:
// - server spans named `GET /v1/cases/:id` (the route template), carrying `app.journey` and `app.step` (the
//   journey and objective name of the route in the spec); the plugin adds `app.tenant` from the principal;
// - a sampler: the parent's decision where there is one (ParentBased), else the golden-path journeys of the spec
//   always and other requests by OTEL_TRACES_SAMPLER_ARG's ratio, all within `tracing.max_per_second`;
// - W3C baggage: only the spec's `tracing.baggage` keys are kept (so nothing else is propagated onward) and copied
//   onto the server span; a tenant in baggage is never believed;
// - an attribute allow-list applied before export: a span leaves the process with only known, non-personal
//   attributes (no query strings, no e-mail, no tokens, no exception messages).
//
// Off, and nothing loaded, unless an exporter is configured: OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp|console; OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none turn it off.

import { type Clock, systemClock } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import {
  type Attributes,
  type AttributeValue,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Sampler, SamplingResult, SpanExporter } from '@opentelemetry/sdk-trace';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** What tracing needs of headroom.yaml (`loadSpec` gives it). */
export interface TracingSpecPart {
  service: string;
  objectives: readonly { name: string; method: string; route: string; journey?: string }[];
  tracing: { golden: readonly string[]; maxPerSecond: number; baggage: readonly string[] };
}

/** Options of {@link startTracing}. */
export interface TracingOptions {
  spec: TracingSpecPart;
  /** Where OTEL_* settings are read. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Time source of the traces-per-second cap. @default systemClock() */
  clock?: Clock;
  /** Export here instead of the exporter OTEL_* names (tests). */
  exporter?: SpanExporter;
  /** Paths never traced (probes and scrapes). @default ['/metrics', '/health'] and everything under them */
  ignorePaths?: readonly string[];
}

/** A running tracing setup. */
export interface Tracing {
  /** Register first on the Fastify app, before any route: `await app.register(tracing.plugin)`. */
  plugin: FastifyPluginCallback;
  /** Sends what is buffered. */
  forceFlush(): Promise<void>;
  /** Flushes and stops; call at shutdown. */
  shutdown(): Promise<void>;
}

/** Baggage keys that name what the service itself decides; never taken from a caller. */
const reservedKeys = new Set(['app.tenant', 'app.journey', 'app.step']);

/**
 * True when the environment configures a trace exporter (see the file comment).
 *
 * @example
 * tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }); // true
 */
export function tracingConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return false;
  if (exporter === 'otlp' || exporter === 'console') return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts the OpenTelemetry Node SDK for this service when the environment configures an exporter; undefined (and
 * nothing loaded) otherwise. Call it before building the app, and register `plugin` before any route.
 *
 * @example
 * const tracing = await startTracing({ spec: await loadSpec('headroom.yaml') });
 * const app = Fastify({ logger: { mixin: traceLogFields } });
 * if (tracing) await app.register(tracing.plugin);
 */
export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  const env = options.env ?? process.env;
  if (options.exporter === undefined && !tracingConfigured(env)) return undefined;
  const { spec } = options;
  for (const key of spec.tracing.baggage) {
    if (reservedKeys.has(key)) {
      throw invalidOption(
        '@headroom/fastify/otel',
        'spec.tracing.baggage',
        'keys other than app.tenant, app.journey and app.step',
        key,
      );
    }
  }
  const [{ NodeSDK }, sdkTrace, core, { FastifyOtelInstrumentation }, { UndiciInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/core'),
      import('@fastify/otel'),
      import('@opentelemetry/instrumentation-undici'),
    ]);
  const steps = new Map<string, { journey?: string; step: string }>();
  for (const o of spec.objectives) {
    steps.set(`${o.method} ${o.route}`, { step: o.name, ...(o.journey ? { journey: o.journey } : {}) });
  }
  const { sampler, roots, golden } = samplerFromEnv(env, spec, options.clock ?? systemClock(), sdkTrace);
  const exporter = new AllowListExporter(options.exporter ?? (await exporterFromEnv(env)));
  const ignored = options.ignorePaths ?? ['/metrics', '/health'];
  const isIgnored = (url: string) =>
    ignored.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));
  const allowedBaggage = spec.tracing.baggage;
  const fastifyOtel = new FastifyOtelInstrumentation({
    // Decision spans and events come from the headroom plugin; a span per Fastify hook costs more than it tells.
    instrumentHooks: false,
    instrumentHandler: false,
    // At start-up it is asked about each route; per request, whether the request was decided against (below).
    ignorePaths: (route) => {
      if ('handler' in route) return isIgnored(route.url);
      const skip = skipNext;
      skipNext = false;
      return skip;
    },
    requestHook(span, request: FastifyRequest) {
      const template = request.routeOptions.url;
      // An unsampled request's span records nothing: set nothing on it.
      if (template === undefined || !span.isRecording()) return;
      span.updateName(`${request.method} ${template}`);
      const step = steps.get(`${request.method} ${template}`);
      const attributes: Attributes = {};
      if (step) {
        attributes['app.step'] = step.step;
        if (step.journey) attributes['app.journey'] = step.journey;
      }
      // @fastify/otel calls this before the request's context is active: read the baggage header through the
      // propagator (which drops keys the spec does not allow).
      const baggage =
        request.headers.baggage === undefined
          ? undefined
          : propagation.getBaggage(propagation.extract(ROOT_CONTEXT, request.headers));
      if (baggage) {
        for (const key of allowedBaggage) {
          const entry = baggage.getEntry(key);
          if (entry !== undefined) attributes[key] = entry.value.slice(0, 128);
        }
      }
      span.setAttributes(attributes);
    },
  });
  const processor = new sdkTrace.BatchSpanProcessor({ exporter });
  // A request without a traceparent is decided here, before @fastify/otel sees it: one it will not sample is
  // skipped (its ignorePaths says so), so it makes no span, ids or context at all, which is most of what tracing
  // costs an unsampled request. A request to sample is handed to the sampler, which applies the cap. Both run
  // synchronously, one hook after the other, so a flag carries the decision from one to the next.
  let skipNext = false;
  const goldenRoutes = golden
    ? new Set(
        spec.objectives.flatMap((o) =>
          o.journey !== undefined && spec.tracing.golden.includes(o.journey)
            ? [`${o.method} ${o.route}`]
            : [],
        ),
      )
    : new Set<string>();
  function decideSampling(request: FastifyRequest, _reply: unknown, done: () => void): void {
    // Fresh for every request: a flag left by one @fastify/otel did not read (a route it skips) cannot leak.
    skipNext = false;
    if (request.headers.traceparent === undefined) {
      const template = request.routeOptions.url;
      const wanted =
        template !== undefined &&
        !isIgnored(template) &&
        (goldenRoutes.has(`${request.method} ${template}`) || (roots > 0 && Math.random() < roots));
      // The cap is taken here too: a request over it is skipped like any unsampled one.
      if (!(wanted && sampler.handOff?.() === true)) skipNext = true;
    }
    done();
  }
  const otelPlugin = fastifyOtel.plugin();
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? spec.service,
    sampler,
    spanProcessors: [processor],
    textMapPropagator: new core.CompositePropagator({
      propagators: [
        new core.W3CTraceContextPropagator(),
        new AllowListBaggage(new core.W3CBaggagePropagator(), allowedBaggage),
      ],
    }),
    instrumentations: [fastifyOtel, new UndiciInstrumentation()],
    // The metrics stay in prom-client (/metrics); logs go through pino.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    plugin: fp(
      async function headroomTracing(app) {
        app.addHook('onRequest', decideSampling);
        await app.register(otelPlugin);
      },
      { name: '@headroom/fastify/otel' },
    ),
    forceFlush: () => processor.forceFlush(),
    shutdown: () => sdk.shutdown(),
  };
}

type SdkTrace = typeof import('@opentelemetry/sdk-trace');

// OTEL_TRACES_SAMPLER as the spec describes it (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/),
// with the golden path and the cap added to the ratio samplers. Unset means parentbased_traceidratio.
function samplerFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  spec: TracingSpecPart,
  clock: Clock,
  sdk: SdkTrace,
): {
  sampler: Sampler & { handOff?(): boolean };
  /** The ratio of new requests off the golden path to trace. */
  roots: number;
  /** Whether golden-path requests are traced. */
  golden: boolean;
} {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_traceidratio';
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = arg === undefined || arg === '' ? 1 : Number(arg);
  if (!(ratio >= 0 && ratio <= 1)) {
    throw invalidOption('@headroom/fastify/otel', 'OTEL_TRACES_SAMPLER_ARG', 'a ratio from 0 to 1', arg);
  }
  // HEADROOM_TRACES_PER_SECOND overrides the spec's cap (an operator's knob; benches use it to trace everything).
  const cap = env.HEADROOM_TRACES_PER_SECOND?.trim();
  const perSecond = cap ? Number(cap) : spec.tracing.maxPerSecond;
  if (!(Number.isFinite(perSecond) && perSecond >= 1)) {
    throw invalidOption('@headroom/fastify/otel', 'HEADROOM_TRACES_PER_SECOND', 'a number >= 1', cap);
  }
  const root = (r: number) => new GoldenPathSampler(spec, r, clock, sdk, perSecond);
  // The root sampler is reachable for the hand-off of a request decided before @fastify/otel.
  const parentBased = (r: GoldenPathSampler) =>
    Object.assign(new sdk.ParentBasedSampler({ root: r }), { handOff: () => r.handOff() });
  const off = { roots: 0, golden: false };
  switch (name) {
    case 'always_on':
      return { sampler: root(1), roots: 1, golden: true };
    case 'always_off':
      return { sampler: new sdk.AlwaysOffSampler(), ...off };
    case 'traceidratio':
      return { sampler: root(ratio), roots: ratio, golden: true };
    case 'parentbased_always_on':
      return { sampler: parentBased(root(1)), roots: 1, golden: true };
    case 'parentbased_always_off':
      return { sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }), ...off };
    case 'parentbased_traceidratio':
      return { sampler: parentBased(root(ratio)), roots: ratio, golden: true };
    default:
      throw invalidOption(
        '@headroom/fastify/otel',
        'OTEL_TRACES_SAMPLER',
        'always_on, always_off, traceidratio or parentbased_* of those',
        name,
      );
  }
}

/**
 * The root sampler: a request of a golden-path journey is sampled, any other by `ratio` (of the trace id, so every
 * service of a trace agrees), a span linked to a sampled span (a job run for a traced request) too; at most
 * `maxPerSecond` traces start per second (a token bucket), so a burst cannot flood the exporter.
 */
export class GoldenPathSampler implements Sampler {
  readonly #golden = new Set<string>();
  readonly #ratio: Sampler;
  readonly #clock: Clock;
  readonly #perSecond: number;
  readonly #sdk: SdkTrace;
  #tokens: number;
  #refilledAt: number;
  #handedOff = false;

  /**
   * A request decided to be traced before its span exists: takes a token of the cap, and if there was one, the next
   * HTTP server span is sampled (true); over the cap, false.
   */
  handOff(): boolean {
    if (!this.#take()) return false;
    this.#handedOff = true;
    return true;
  }

  constructor(
    spec: TracingSpecPart,
    ratio: number,
    clock: Clock,
    sdk: SdkTrace,
    perSecond = spec.tracing.maxPerSecond,
  ) {
    const golden = new Set(spec.tracing.golden);
    for (const o of spec.objectives) {
      if (o.journey !== undefined && golden.has(o.journey)) this.#golden.add(`${o.method} ${o.route}`);
    }
    this.#ratio = new sdk.TraceIdRatioBasedSampler(ratio);
    this.#clock = clock;
    this.#perSecond = perSecond;
    this.#sdk = sdk;
    this.#tokens = this.#perSecond;
    this.#refilledAt = clock.monotonic();
  }

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: Parameters<Sampler['shouldSample']>[3],
    attributes: Attributes,
    links: Parameters<Sampler['shouldSample']>[5],
  ): SamplingResult {
    const { SamplingDecision } = this.#sdk;
    // A request decided before @fastify/otel (startTracing's onRequest hook): only the cap is left to apply.
    if (this.#handedOff && attributes['http.request.method'] !== undefined) {
      this.#handedOff = false;
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    const route = attributes['http.route'];
    const wanted =
      (route !== undefined && this.#golden.has(`${attributes['http.request.method']} ${route}`)) ||
      links.some((l) => (l.context.traceFlags & 1) === 1) ||
      this.#ratio.shouldSample(context, traceId, spanName, spanKind, attributes, links).decision ===
        SamplingDecision.RECORD_AND_SAMPLED;
    if (!wanted || !this.#take()) return { decision: SamplingDecision.NOT_RECORD };
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }

  #take(): boolean {
    const now = this.#clock.monotonic();
    this.#tokens = Math.min(
      this.#perSecond,
      this.#tokens + ((now - this.#refilledAt) / 1000) * this.#perSecond,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  toString(): string {
    return `GoldenPathSampler{golden=${this.#golden.size} routes, ratio=${this.#ratio}, max=${this.#perSecond}/s}`;
  }
}

// W3C baggage, with every key the spec does not allow dropped on the way in: it neither reaches a span nor travels
// on to the services this one calls.
class AllowListBaggage implements TextMapPropagator {
  readonly #inner: TextMapPropagator;
  readonly #allowed: ReadonlySet<string>;

  constructor(inner: TextMapPropagator, allowed: readonly string[]) {
    this.#inner = inner;
    this.#allowed = new Set(allowed);
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#inner.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const extracted = this.#inner.extract(context, carrier, getter);
    const baggage = propagation.getBaggage(extracted);
    if (baggage === undefined) return extracted;
    let kept = baggage;
    for (const [key] of baggage.getAllEntries()) if (!this.#allowed.has(key)) kept = kept.removeEntry(key);
    return kept.getAllEntries().length === 0
      ? propagation.deleteBaggage(extracted)
      : propagation.setBaggage(extracted, kept);
  }

  fields(): string[] {
    return this.#inner.fields();
  }
}

// Attributes a span may leave the process with. Prefixes cover attributes headroom itself sets (`app.*`,
// `headroom.*`) and names that carry no caller data; anything else is dropped, so an attribute a library adds in
// a later version is kept out until it is looked at.
const allowedExact = new Set([
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'url.scheme',
  'error.type',
  'db.system',
  'db.system.name',
  'db.namespace',
  'db.operation.name',
  'db.collection.name',
  'db.query.summary',
  'db.query.text',
  'db.response.status_code',
  'server.address',
  'server.port',
  'network.protocol.version',
  'network.peer.address',
  'network.peer.port',
  'exception.type',
  'exception.stacktrace',
  'hook.name',
  'hook.callback.name',
  'fastify.type',
  'fastify.root',
]);
const allowedPrefixes = ['app.', 'headroom.', 'messaging.'];

/**
 * True when an attribute key may be exported.
 *
 * @example
 * attributeAllowed('http.route'); // true
 * attributeAllowed('url.query');  // false
 */
export function attributeAllowed(key: string): boolean {
  return allowedExact.has(key) || allowedPrefixes.some((p) => key.startsWith(p));
}

function scrub(attributes: Attributes): Attributes {
  let out: Attributes | undefined;
  for (const key in attributes) {
    let value: AttributeValue | undefined = attributes[key];
    const allowed = attributeAllowed(key);
    // A stack's first line is the error's message, which may quote what the caller sent: only the frames leave.
    if (allowed && key === 'exception.stacktrace' && typeof value === 'string') {
      value = value
        .split('\n')
        .filter((line) => /^\s+at /.test(line))
        .join('\n');
    }
    if (!allowed || value !== attributes[key]) {
      out ??= { ...attributes };
      if (allowed) out[key] = value;
      else delete out[key];
    }
  }
  return out ?? attributes;
}

// Applies the allow-list to each span on its way out: a view of the span (its prototype) with scrubbed
// attributes, events and status message, so the span the SDK holds is left as it is.
class AllowListExporter implements SpanExporter {
  readonly #inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(
      spans.map(
        (span) =>
          Object.create(span, {
            attributes: { value: scrub(span.attributes) },
            events: {
              value: span.events.map((e) => (e.attributes ? { ...e, attributes: scrub(e.attributes) } : e)),
            },
            // An error's message may quote what the caller sent; its type (error.type) says what happened.
            status: { value: { code: span.status.code } },
          }) as ReadableSpan,
      ),
      done,
    );
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

// The OTLP exporter OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names (default http/protobuf, as the spec says); each
// reads its endpoint, headers and timeout from the same variables. OTEL_TRACES_EXPORTER=console prints spans.
async function exporterFromEnv(env: Readonly<Record<string, string | undefined>>): Promise<SpanExporter> {
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'console') {
    const { ConsoleSpanExporter } = await import('@opentelemetry/sdk-trace');
    return new ConsoleSpanExporter();
  }
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  switch (protocol) {
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'http/protobuf':
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
    default:
      throw invalidOption(
        '@headroom/fastify/otel',
        'OTEL_EXPORTER_OTLP_PROTOCOL',
        'http/json, http/protobuf or grpc',
        protocol,
      );
  }
}
