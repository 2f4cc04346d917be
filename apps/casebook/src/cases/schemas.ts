// JSON Schemas of the case routes' params, query strings and bodies.

import { Type } from 'typebox';
import { Id } from '../http/params.ts';

export const CaseStatus = Type.Union([
  Type.Literal('open'),
  Type.Literal('investigating'),
  Type.Literal('escalated'),
  Type.Literal('closed'),
]);
export const CasePriority = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);

export const Cursor = Type.String({ minLength: 1, maxLength: 200 });
export const Limit = Type.Integer({ minimum: 1, maximum: 100 });

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(CaseStatus),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

/** The fields a detail response can be narrowed to with `fields=`. */
export const caseFields = [
  'id',
  'title',
  'description',
  'status',
  'priority',
  'owner_id',
  'owner',
  'version',
  'created_at',
  'updated_at',
] as const;

const expandPath = 'owner(?:\\.team(?:\\.org)?)?';
const fieldName = caseFields.join('|');

export const DetailQuery = Type.Object(
  {
    expand: Type.Optional(Type.String({ pattern: `^${expandPath}(?:,${expandPath})*$`, maxLength: 100 })),
    fields: Type.Optional(
      Type.String({ pattern: `^(?:${fieldName})(?:,(?:${fieldName}))*$`, maxLength: 200 }),
    ),
  },
  { additionalProperties: false },
);

const Title = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 10_000 });
const OwnerId = Type.Union([Id, Type.Null()]);

export const CreateCaseBody = Type.Object(
  {
    title: Title,
    description: Type.Optional(Description),
    status: Type.Optional(CaseStatus),
    priority: Type.Optional(CasePriority),
    owner_id: Type.Optional(OwnerId),
  },
  { additionalProperties: false },
);

export const PatchCaseBody = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    status: Type.Optional(CaseStatus),
    priority: Type.Optional(CasePriority),
    owner_id: Type.Optional(OwnerId),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const PageQuery = Type.Object(
  { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
  { additionalProperties: false },
);
