// Real-user monitoring: a route that takes web-vitals beacons from browsers and records them as histograms.

import { type Clock, systemClock } from '@headroom/core/clock';
import { invalidOption, isHeadroomError } from '@headroom/core/errors';
import { createRateLimiter, rateLimitedError, rateLimitKey } from '@headroom/core/ratelimit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { burstErrorHandler } from './error-handler.ts';
import { fastifyErrors } from './errors.ts';
import { CounterFamily, HistogramFamily, type HistogramSeries } from './metric-series.ts';
import { validatorCompiler } from './validator-compiler.ts';

/** The web-vitals metrics a beacon may carry (`onTTFB`, `onFCP`, `onLCP`, `onINP`, `onCLS`). */
export type RumMetricName = 'TTFB' | 'FCP' | 'LCP' | 'INP' | 'CLS';

/**
 * The one body `POST /rum` takes, as `application/json` or as `text/plain` (what `navigator.sendBeacon` sends
 * for a string, so a cross-origin beacon needs no CORS preflight). Members are the web-vitals metric object's;
 * no other member is accepted.
 */
export interface RumBeacon {
  /** One of the route's `journeys`. */
  journey: string;
  /** 1 to 10 metrics; timings in milliseconds (at most 120 000), CLS unitless (at most 100). */
  metrics: {
    name: RumMetricName;
    value: number;
    rating?: 'good' | 'needs-improvement' | 'poor';
    id?: string;
    navigationType?: string;
  }[];
}

/** Options of {@link rumRoutes}. */
export interface RumOptions {
  /** The journeys beacons may name (the `journey` label): 1 to 64 characters each. */
  journeys: readonly string[];
  /** Where beacons are posted. @default '/rum' */
  path?: string;
  /** Largest body accepted, in bytes. @default 8192 */
  maxBodyBytes?: number;
  /**
   * Beacons per client address (`request.ip`: set Fastify's `trustProxy` behind a proxy), kept in this process:
   * `perSecond` sustained and `burst` at once, both integers >= 1. @default { perSecond: 20, burst: 40 }
   */
  rateLimit?: { perSecond: number; burst: number };
  /** Time source of the rate limit. @default systemClock() */
  clock?: Clock;
  /**
   * The spec's real-user budgets (`loadSpec(...).rum`): each becomes a bucket edge too (a timing in seconds, CLS as
   * it is), so the share of page views within budget is one bucket over the count, as `headroom gen`'s rules read
   * it. @default only web-vitals' own thresholds
   */
  budgets?: readonly { budgets: Partial<Record<RumMetricName, number>> }[];
}

const defaultOptions = {
  path: '/rum',
  maxBodyBytes: 8192,
  rateLimit: { perSecond: 20, burst: 40 },
} as const;

const timings = ['TTFB', 'FCP', 'LCP', 'INP'] as const;

// Every good / poor threshold of web-vitals is an edge (INP 0.2 and 0.5, TTFB 0.8 and 1.8, FCP 1.8 and 3, LCP
// 2.5 and 4 s; CLS 0.1 and 0.25), so the share of good page views is one bucket over the count, exactly.
const secondsBuckets = [0.05, 0.1, 0.2, 0.5, 0.8, 1, 1.8, 2.5, 3, 4, 6, 10];
const clsBuckets = [0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1];

const beaconSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['journey', 'metrics'],
  properties: {
    journey: { type: 'string', minLength: 1, maxLength: 64 },
    metrics: {
      type: 'array',
      minItems: 1,
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'value'],
        properties: {
          name: { type: 'string', enum: [...timings, 'CLS'] },
          // A minute is far past any real page load; CLS above 100 means a broken client, not a shifty page.
          value: { type: 'number', minimum: 0, maximum: 120_000 },
          rating: { type: 'string', enum: ['good', 'needs-improvement', 'poor'] },
          id: { type: 'string', maxLength: 128 },
          navigationType: { type: 'string', maxLength: 32 },
        },
        if: { properties: { name: { const: 'CLS' } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, a plain object nothing awaits
        then: { properties: { value: { type: 'number', maximum: 100 } } },
      },
    },
  },
} as const;

/**
 * Registers `POST <path>` for web-vitals beacons ({@link RumBeacon}) and, in `registry`,
 * `headroom_rum_seconds{journey,metric}` (TTFB, FCP, LCP, INP), `headroom_rum_cls{journey}` and
 * `headroom_rum_beacons_total{result}` (accepted, invalid, rate_limited). An accepted beacon is a 204; every
 * refusal is a problem naming the `field` at fault, a 429 has `Retry-After`. The route lives in its own
 * encapsulated plugin: its body parser (JSON for `text/plain` too), validator and error handler touch no
 * other route. Bad options throw HR_INVALID_OPTION at once.
 *
 * @example
 * rumRoutes(app, app.headroom.registry, { journeys: ['case-search', 'case-view'] });
 * // in the browser:
 * onLCP((m) => navigator.sendBeacon('/rum', JSON.stringify({ journey: 'case-search', metrics: [m] })));
 */
export function rumRoutes(app: FastifyInstance, registry: Registry, options: RumOptions): void {
  const { journeys, path, maxBodyBytes, rateLimit, clock } = checked(options);
  const budgets = options.budgets ?? [];
  const withBudgets = (base: readonly number[], values: (number | undefined)[]) =>
    [...new Set([...base, ...values.filter((v): v is number => v !== undefined && v > 0)])].sort(
      (a, b) => a - b,
    );
  const seconds = new HistogramFamily({
    name: 'headroom_rum_seconds',
    help: 'Web vitals timings (TTFB, FCP, LCP, INP) reported by browsers, in seconds, by journey.',
    labelNames: ['journey', 'metric'],
    buckets: withBudgets(
      secondsBuckets,
      budgets.flatMap((b) =>
        timings.map((t) => (b.budgets[t] === undefined ? undefined : b.budgets[t]! / 1000)),
      ),
    ),
    registers: [registry],
  });
  const cls = new HistogramFamily({
    name: 'headroom_rum_cls',
    help: 'Cumulative layout shift reported by browsers (unitless), by journey.',
    labelNames: ['journey'],
    buckets: withBudgets(
      clsBuckets,
      budgets.map((b) => b.budgets.CLS),
    ),
    registers: [registry],
  });
  const beacons = new CounterFamily({
    name: 'headroom_rum_beacons_total',
    help: 'RUM beacons received, by result: accepted, invalid or rate_limited.',
    labelNames: ['result'],
    registers: [registry],
  });
  // Every series exists from the start (a journey nobody visited yet reads 0, not absent), and a beacon only
  // looks its journey up here: a name not in the map is refused, so labels stay bounded.
  const series = new Map<string, Record<RumMetricName, HistogramSeries>>();
  for (const journey of journeys) {
    const byName: Record<RumMetricName, HistogramSeries> = {
      TTFB: seconds.labels(journey, 'TTFB'),
      FCP: seconds.labels(journey, 'FCP'),
      LCP: seconds.labels(journey, 'LCP'),
      INP: seconds.labels(journey, 'INP'),
      CLS: cls.labels(journey),
    };
    series.set(journey, byName);
  }
  const accepted = beacons.labels('accepted');
  const invalid = beacons.labels('invalid');
  const limited = beacons.labels('rate_limited');

  const policy = { name: 'rum', limit: rateLimit.perSecond, window: 1000, burst: rateLimit.burst };
  const limiter = createRateLimiter({ clock });
  const answerError = burstErrorHandler(clock);

  app.register(async function rumScope(scope) {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      ['application/json', 'text/plain'],
      { parseAs: 'string' },
      scope.getDefaultJsonParser('error', 'error'),
    );
    scope.setValidatorCompiler(validatorCompiler());
    scope.setErrorHandler(function answerRumError(error, request, reply) {
      const sent = answerError(withField(error, maxBodyBytes), request, reply);
      if (reply.statusCode === 429) limited.inc();
      else if (reply.statusCode < 500) invalid.inc();
      return sent;
    });
    scope.post(
      path,
      {
        bodyLimit: maxBodyBytes,
        schema: { body: beaconSchema },
        // Before the body is read: a flooding client costs no parsing.
        onRequest: function limitBeacons(request: FastifyRequest, _reply: FastifyReply, done) {
          const key = rateLimitKey({ client: request.ip || 'unknown' }, 'rum');
          // A limiter on its own memory store always decides at once.
          const decision = limiter.checkSync(key, policy)!;
          done(decision.allowed ? undefined : rateLimitedError(decision));
        },
      },
      function acceptBeacon(request, reply) {
        const beacon = request.body as RumBeacon;
        const byName = series.get(beacon.journey);
        if (byName === undefined) {
          const detail = `journey ${JSON.stringify(beacon.journey)} is not one of ${journeys.join(', ')}`;
          throw fastifyErrors.create('HR_UNKNOWN_JOURNEY', detail, { context: { field: 'body.journey' } });
        }
        for (const { name, value } of beacon.metrics) {
          byName[name].observe(name === 'CLS' ? value : value / 1000);
        }
        accepted.inc();
        reply.code(204).send();
      },
    );
  });
}

// Fastify's own refusals of a body, as the plugin's codes with the field at fault; the rest (HeadroomErrors,
// schema validation, which names its field already) pass as they are.
function withField(error: unknown, maxBodyBytes: number): unknown {
  if (isHeadroomError(error)) return error;
  switch ((error as { code?: unknown } | null)?.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return fastifyErrors.create('HR_MALFORMED_JSON', 'the body is empty or not valid JSON', {
        cause: error,
        context: { field: 'body' },
      });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return fastifyErrors.create('HR_BODY_TOO_LARGE', `the body is larger than ${maxBodyBytes} bytes`, {
        cause: error,
        context: { field: 'body', limit: maxBodyBytes },
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return fastifyErrors.create(
        'HR_UNSUPPORTED_MEDIA_TYPE',
        'send the beacon as application/json or text/plain',
        { cause: error, context: { field: 'headers.content-type' } },
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fastifyErrors.create('HR_BAD_REQUEST', 'the body is not as long as its Content-Length', {
        cause: error,
        context: { field: 'headers.content-length' },
      });
    default:
      return error;
  }
}

function checked(options: RumOptions) {
  const invalid = (option: string, rule: string, value: unknown) =>
    invalidOption('rumRoutes', option, rule, value);
  const journeys = options?.journeys;
  if (
    !Array.isArray(journeys) ||
    journeys.length === 0 ||
    !journeys.every((j) => typeof j === 'string' && j.length >= 1 && j.length <= 64 && j.isWellFormed()) ||
    new Set(journeys).size !== journeys.length
  ) {
    throw invalid('journeys', 'a non-empty list of distinct names of 1 to 64 characters', journeys);
  }
  const path = options.path ?? defaultOptions.path;
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw invalid('path', 'a path starting with "/"', path);
  const maxBodyBytes = options.maxBodyBytes ?? defaultOptions.maxBodyBytes;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw invalid('maxBodyBytes', 'an integer >= 1', maxBodyBytes);
  }
  const rateLimit = options.rateLimit ?? defaultOptions.rateLimit;
  for (const field of ['perSecond', 'burst'] as const) {
    const value = rateLimit?.[field];
    if (!Number.isSafeInteger(value) || value < 1)
      throw invalid(`rateLimit.${field}`, 'an integer >= 1', value);
  }
  const clock = options.clock ?? systemClock();
  const methods = ['now', 'monotonic', 'setTimeout'] as const;
  if (!methods.every((m) => typeof clock?.[m] === 'function')) {
    throw invalid('clock', 'a Clock (now, monotonic, setTimeout)', clock);
  }
  return { journeys: [...journeys], path, maxBodyBytes, rateLimit, clock };
}
