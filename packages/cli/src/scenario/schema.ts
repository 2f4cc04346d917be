// JSON Schema of a scenario file as people write it. Units are the spec's (one set of patterns).

import { durationPattern, ratePattern, ratioPattern } from '@headroom/core/slo';

const duration = { type: 'string', pattern: durationPattern };
const rate = { type: 'string', pattern: ratePattern };
const step = {
  type: 'object',
  additionalProperties: false,
  required: ['method', 'path'],
  properties: {
    name: { type: 'string' },
    method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
    path: { type: 'string', pattern: '^/' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    json: {},
    capture: { type: 'object', additionalProperties: { type: 'string', pattern: '^\\$' } },
    status: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, minItems: 1 },
    expect: { type: 'object', propertyNames: { pattern: '^\\$' } },
    poll: {
      type: 'object',
      additionalProperties: false,
      required: ['until'],
      properties: {
        until: { type: 'object', minProperties: 1, propertyNames: { pattern: '^\\$' } },
        every: duration,
        max: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
  },
} as const;

export const scenarioSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'stages', 'flows'],
  properties: {
    name: { type: 'string', minLength: 1 },
    target: { type: 'string', pattern: '^https?://' },
    seed: { type: 'integer' },
    model: { enum: ['open', 'closed'] },
    stages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'duration'],
        properties: {
          name: { type: 'string', minLength: 1 },
          duration,
          rate,
          to: rate,
          vus: { type: 'integer', minimum: 1 },
          thinkTime: duration,
          judge: { type: 'boolean', description: 'false for warm-up: the gate ignores this stage' },
        },
      },
    },
    maxInflight: { type: 'integer', minimum: 1 },
    timeout: duration,
    vars: { type: 'object' },
    feeds: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['file'],
        properties: { file: { type: 'string', pattern: '\\.(csv|json)$' } },
      },
    },
    setup: { type: 'array', items: step },
    flows: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'steps'],
        properties: {
          name: { type: 'string', minLength: 1 },
          weight: { type: 'number', exclusiveMinimum: 0 },
          steps: { type: 'array', minItems: 1, items: step },
        },
      },
    },
    spec: { type: 'string' },
    judgeThroughput: { type: 'boolean' },
    spike: {
      type: 'object',
      additionalProperties: false,
      required: ['stage'],
      description: 'a spike drill: the overload stage, judged for refusals, admitted p99 and recovery',
      properties: {
        stage: { type: 'string', minLength: 1 },
        baseline: { type: 'string', minLength: 1 },
        recovery: duration,
        p99Factor: { type: 'number', exclusiveMinimum: 0 },
        recoveryFactor: { type: 'number', minimum: 1 },
        refusals: { type: 'array', items: { type: 'integer', minimum: 400, maximum: 599 }, minItems: 1 },
      },
    },
    soak: {
      type: 'object',
      additionalProperties: false,
      description: "a soak: the target's RSS slope and the p95's drift over a long stage",
      properties: {
        stage: { type: 'string', minLength: 1 },
        window: duration,
        scrapeEvery: duration,
        metrics: { type: 'string', pattern: '^/' },
        rssSlope: { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*MB/h$', description: 'e.g. "5 MB/h"' },
        p95Drift: {
          anyOf: [
            { type: 'string', pattern: ratioPattern },
            { type: 'number', minimum: 0, maximum: 1 },
          ],
        },
      },
    },
    checkFailures: {
      anyOf: [
        { type: 'string', pattern: ratioPattern },
        { type: 'number', minimum: 0, maximum: 1 },
      ],
      description:
        'largest share of requests whose checks (status, expect) may fail before the run fails; default 0',
    },
  },
} as const;
