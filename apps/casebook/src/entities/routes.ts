// Entities (people, accounts, devices...) and their links to cases.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Cache } from '@headroom/core/cache';
import type { Clock } from '@headroom/core/clock';
import { Type } from 'typebox';
import type { Database } from '../db/database.ts';
import { tenantData } from '../http/cache-policy.ts';
import { invalidateCase } from '../http/cached-reads.ts';
import { acceptsIdempotencyKey, createOnce, jsonType } from '../http/idempotency.ts';
import { Id, IdParams } from '../http/params.ts';
import { notFound, rethrowForeignKey } from '../http/problems.ts';

export interface EntityRoutesOptions {
  db: Database;
  clock: Clock;
  /** A new link adds a timeline event: the case's cached pages are invalidated. */
  cache: Cache | undefined;
}

const EntityKind = Type.Union(
  ['person', 'organization', 'account', 'device', 'address', 'ip'].map((kind) => Type.Literal(kind)),
);

const CreateEntityBody = Type.Object(
  {
    kind: EntityKind,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    attributes: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 64 }),
        Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]),
        {
          maxProperties: 50,
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const LinkBody = Type.Object(
  { entity_id: Id, role: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })) },
  { additionalProperties: false },
);

const entityColumns = 'id, kind, name, attributes, created_at';

export const entityRoutes: FastifyPluginAsyncTypebox<EntityRoutesOptions> = async (
  app,
  { db, clock, cache },
) => {
  app.post(
    '/v1/entities',
    { schema: { body: CreateEntityBody }, config: { idempotency: acceptsIdempotencyKey } },
    async (request, reply) => {
      const { kind, name, attributes = {} } = request.body;
      const created = await createOnce(db, request, async (tx) => {
        const row = (
          await tx.query(
            `INSERT INTO entities (tenant_id, kind, name, attributes, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING ${entityColumns}`,
            [request.principal.tenantId, kind, name, JSON.stringify(attributes), new Date(clock.now())],
          )
        ).rows[0]!;
        const headers = { location: `/v1/entities/${row.id}`, 'content-type': jsonType };
        return { status: 201, body: JSON.stringify(row), headers };
      });
      return reply.code(201).header('location', created.headers.location).type(jsonType).send(created.body);
    },
  );

  app.get(
    '/v1/entities/:id',
    { schema: { params: IdParams }, config: { httpCache: tenantData } },
    async (request) => {
      const row = (
        await db.query({
          name: 'entity-detail',
          text: `SELECT ${entityColumns} FROM entities WHERE tenant_id = $1 AND id = $2`,
          values: [request.principal.tenantId, request.params.id],
        })
      ).rows[0];
      if (!row) throw notFound('entity', request.params.id);
      return row;
    },
  );

  // Linking is idempotent: linking a linked entity again answers 200 with the existing link.
  app.post(
    '/v1/cases/:id/entities',
    { schema: { params: IdParams, body: LinkBody } },
    async (request, reply) => {
      const { tenantId, userId } = request.principal;
      const { entity_id: entityId, role = 'related' } = request.body;
      const now = new Date(clock.now());
      const result = await db
        .query<{ case_found: boolean; inserted: boolean; role: string; created_at: Date }>(
          `WITH target AS (SELECT id FROM cases WHERE tenant_id = $1 AND id = $2),
         inserted AS (
           INSERT INTO case_entities (tenant_id, case_id, entity_id, role, created_at)
           SELECT $1, id, $3, $4, $5 FROM target
           ON CONFLICT (tenant_id, case_id, entity_id) DO NOTHING
           RETURNING role, created_at
         ),
         event AS (
           INSERT INTO events (tenant_id, case_id, kind, summary, actor_id, occurred_at)
           SELECT $1, $2, 'entity_linked', 'Linked entity ' || $3::text || ' as ' || $4, $6, $5 FROM inserted
         )
         SELECT EXISTS (SELECT 1 FROM target) AS case_found,
                EXISTS (SELECT 1 FROM inserted) AS inserted,
                coalesce((SELECT role FROM inserted), ce.role) AS role,
                coalesce((SELECT created_at FROM inserted), ce.created_at) AS created_at
         FROM (SELECT 1) one
         LEFT JOIN case_entities ce ON ce.tenant_id = $1 AND ce.case_id = $2 AND ce.entity_id = $3`,
          [tenantId, request.params.id, entityId, role, now, userId],
        )
        .catch(rethrowForeignKey);
      const row = result.rows[0]!;
      if (!row.case_found) throw notFound('case', request.params.id);
      if (row.inserted) await invalidateCase(cache, tenantId, request.params.id, { search: false });
      return reply.code(row.inserted ? 201 : 200).send({
        case_id: request.params.id,
        entity_id: entityId,
        role: row.role,
        created_at: row.created_at,
      });
    },
  );
};
