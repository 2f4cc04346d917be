// The JSON Schema of headroom.yaml, as written by people (durations and ratios as strings).

import { durationPattern, ratePattern, ratioPattern } from './units.ts';

const duration = {
  type: 'string',
  pattern: durationPattern,
  description: 'a duration such as 250ms, 1.5s, 5m, 30d',
};
const ratio = {
  anyOf: [
    { type: 'string', pattern: ratioPattern },
    { type: 'number', minimum: 0, maximum: 1 },
  ],
  description: 'a ratio such as 0.1% or 0.001',
};

// A status an error budget counts: one code (429) or a class ('5xx').
const statusPattern = {
  anyOf: [
    { type: 'integer', minimum: 100, maximum: 599 },
    { type: 'string', pattern: '^[1-5]xx$' },
  ],
  description: 'a status code such as 429, or a class such as 5xx',
};
const errorBudget = {
  anyOf: [
    ratio,
    {
      type: 'object',
      additionalProperties: false,
      required: ['ratio'],
      properties: { ratio, statuses: { type: 'array', minItems: 1, items: statusPattern } },
    },
  ],
  description: 'a ratio such as 0.1%, or { ratio: 0.1%, statuses: [5xx, 429] }',
};

/** A phase of a request: `auth`, `ratelimit`, `cache`, `db`, `upstream`, `serialize`, or a service's own. */
export const phasePattern = '^[a-z][a-z0-9_]{0,31}$';

/** JSON Schema (draft-07, as Ajv 8 checks it by default) of the file. */
export const specSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'objectives'],
  properties: {
    service: { type: 'string', minLength: 1, pattern: '^[a-z0-9][a-z0-9_-]*$' },
    window: duration,
    objectives: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'route'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]*$' },
          route: {
            type: 'string',
            pattern: '^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\\S*$',
            description: 'METHOD /route/template, e.g. GET /v1/cases/:id',
          },
          journey: { type: 'string', minLength: 1 },
          latency: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { p50: duration, p90: duration, p95: duration, p99: duration, 'p99.9': duration },
          },
          errors: errorBudget,
          availability: ratio,
          throughput: { type: 'string', pattern: ratePattern, description: 'a rate such as 200/s' },
          phases: {
            type: 'object',
            minProperties: 1,
            propertyNames: { pattern: phasePattern },
            additionalProperties: duration,
            description:
              'p95 budget of each phase of a request, e.g. { auth: 5ms, db: 20ms, serialize: 3ms }',
          },
        },
        anyOf: [{ required: ['latency'] }, { required: ['errors'] }, { required: ['availability'] }],
      },
    },
    telemetry: {
      type: 'object',
      additionalProperties: false,
      description: 'what metrics may carry about tenants, and how many series a metric may grow',
      properties: {
        tenants: {
          type: 'object',
          additionalProperties: false,
          required: ['top'],
          properties: { top: { type: 'integer', minimum: 1, maximum: 1000 } },
          description: 'metrics may carry a tenant label: the top N tenants by requests, the rest as "other"',
        },
        max_series: {
          type: 'integer',
          minimum: 1,
          description: 'label sets a metric may hold; more are dropped',
        },
      },
    },
    tracing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        golden: {
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', minLength: 1 },
          description: 'journeys whose requests are always traced (within max_per_second)',
        },
        max_per_second: {
          type: 'integer',
          minimum: 1,
          description: 'cap on traces this process starts per second',
        },
        baggage: {
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
          description: 'W3C baggage keys copied onto spans; others are ignored',
        },
      },
    },
    rum: {
      type: 'array',
      description: 'real-user budgets per journey: at least `target` of page views within each',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['journey'],
        anyOf: ['ttfb', 'fcp', 'lcp', 'inp', 'cls'].map((k) => ({ required: [k] })),
        properties: {
          journey: { type: 'string', minLength: 1, maxLength: 64 },
          target: ratio,
          ttfb: duration,
          fcp: duration,
          lcp: duration,
          inp: duration,
          cls: { type: 'number', minimum: 0, maximum: 100 },
        },
      },
    },
    degrade: {
      type: 'array',
      description: 'rules of the SLO degrader: an objective breached turns features off until it recovers',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'objective', 'features'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]*$' },
          objective: { type: 'string', minLength: 1, description: 'the name of an objective above' },
          features: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
          },
          watch: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { enum: ['p50', 'p90', 'p95', 'p99', 'p99.9'] },
            description: 'the latency percentiles of the objective to watch (default: all it sets)',
          },
          breach: {
            type: 'object',
            additionalProperties: false,
            properties: { for: duration },
          },
          restore: {
            type: 'object',
            additionalProperties: false,
            properties: { below: ratio, for: duration },
          },
          hold: duration,
          window: duration,
          min_samples: { type: 'integer', minimum: 1 },
        },
      },
    },
  },
} as const;
