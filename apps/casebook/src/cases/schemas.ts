// JSON Schemas of the case routes' params, query strings and bodies.

import { Type } from 'typebox';
import { Stale, Timestamp } from '../http/envelope.ts';
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

// Response schemas: what the case routes answer. Cached answers are sent as stored bytes, so these are
// the contract the tests and the fuzz suite check the bytes against, not a serializer. Closed: a member
// that is not declared here is a test failure, not a silent addition.
const closed = { additionalProperties: false } as const;

const Org = Type.Object({ id: Type.Integer(), name: Type.String() }, closed);
const Team = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    org_id: Type.Integer(),
    org: Type.Optional(Org),
  },
  closed,
);
/** The owner as `expand=owner` (depth 1), `owner.team` (2) or `owner.team.org` (3) gives it. */
const Owner = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    email: Type.String(),
    role: Type.String(),
    team_id: Type.Union([Type.Integer(), Type.Null()]),
    team: Type.Optional(Type.Union([Team, Type.Null()])),
  },
  closed,
);

/** A case in a search page. */
export const CaseSummary = Type.Object(
  {
    id: Type.Integer(),
    title: Type.String(),
    status: CaseStatus,
    priority: CasePriority,
    owner_id: Type.Union([Type.Integer(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  closed,
);

/**
 * A case: detail, create and update. `fields=` keeps only the members named (and `id`, `stale`); `owner`
 * is there with `expand`; `stale` is true when the detail was served from cache past its fresh time.
 */
export const CaseDetail = Type.Object(
  {
    id: Type.Integer(),
    title: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    status: Type.Optional(CaseStatus),
    priority: Type.Optional(CasePriority),
    owner_id: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    version: Type.Optional(Type.Integer({ minimum: 1 })),
    created_at: Type.Optional(Timestamp),
    updated_at: Type.Optional(Timestamp),
    owner: Type.Optional(Type.Union([Owner, Type.Null()])),
    stale: Stale,
  },
  closed,
);

/** A timeline event. */
export const TimelineEvent = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.String(),
    summary: Type.String(),
    actor_id: Type.Union([Type.Integer(), Type.Null()]),
    occurred_at: Timestamp,
  },
  closed,
);

/** A comment. */
export const Comment = Type.Object(
  {
    id: Type.Integer(),
    author_id: Type.Integer(),
    body: Type.String(),
    created_at: Timestamp,
  },
  closed,
);
