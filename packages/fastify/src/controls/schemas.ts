// The request schemas of the operator's controls, shared by the admin API and the operations page: an action
// takes exactly the same input from either.

export const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['name'],
} as const;

export const invalidateBody = {
  type: 'object',
  properties: {
    tags: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: { type: 'string', minLength: 1, maxLength: 200 },
    },
    tenant: { type: 'string', minLength: 1, maxLength: 200 },
  },
  required: ['tags'],
  additionalProperties: false,
} as const;

export const flagParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' } },
  required: ['name'],
} as const;

export const overrideBody = {
  type: 'object',
  properties: {
    // anyOf, not a type list: Ajv's strict mode warns of a union type at every compile.
    value: { anyOf: [{ type: 'boolean' }, { type: 'string', maxLength: 100 }] },
    tenant: { type: 'string', minLength: 1, maxLength: 200 },
    until: { type: 'string', format: 'date-time', maxLength: 40 },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
  },
  required: ['value', 'reason'],
  additionalProperties: false,
} as const;

export const clearBody = {
  type: 'object',
  properties: {
    tenant: { type: 'string', minLength: 1, maxLength: 200 },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
  },
  required: ['reason'],
  additionalProperties: false,
} as const;

export const queueParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' } },
  required: ['name'],
} as const;

/** Redrive: one dead job by id, or every dead job of the queue (of one tenant, when named). */
export const redriveBody = {
  type: ['object', 'null'],
  properties: {
    id: { type: 'string', pattern: '^[0-9]{1,18}$' },
    tenant: { type: 'string', minLength: 1, maxLength: 200 },
  },
  additionalProperties: false,
} as const;
