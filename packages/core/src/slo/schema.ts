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
        },
        anyOf: [{ required: ['latency'] }, { required: ['errors'] }, { required: ['availability'] }],
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
