// Webhook endpoints of a tenant (issue 14, point 1): where its events go, managed by its admins. Every URL is
// checked for egress on registration and on change (`checkWebhookUrl`: public addresses only, unless allowed).
// The secret is shown once, at creation and at rotation; after a rotation the previous one keeps signing for 24 h.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Clock } from '@headroom/core/clock';
import { checkWebhookUrl, type EgressOptions, generateWebhookSecret } from '@headroom/core/webhooks';
import { Type } from 'typebox';
import { requireAdmin } from '../auth/authenticate.ts';
import type { Database } from '../db/database.ts';
import { type Cursor, decodeCursor, page } from '../http/cursor.ts';
import { IdParams } from '../http/params.ts';
import { notFound } from '../http/problems.ts';
import { pageSize } from '../tenancy/tiers.ts';

export interface WebhookRoutesOptions {
  db: Database;
  clock: Clock;
  /** Where deliveries may go beyond public addresses (`WEBHOOK_ALLOWED_HOSTS`), and the resolver. */
  egress: EgressOptions;
}

/** The events an endpoint can subscribe to. */
export const webhookEvents = ['case.created', 'case.updated', 'comment.created', 'export.completed'] as const;

/** How long a rotated-out secret keeps signing beside the new one. */
const rotationOverlapMs = 24 * 3_600_000;

const Events = Type.Array(Type.Union(webhookEvents.map((event) => Type.Literal(event))), {
  minItems: 1,
  maxItems: webhookEvents.length,
  uniqueItems: true,
});
const Url = Type.String({ minLength: 1, maxLength: 2_000 });
const Description = Type.String({ maxLength: 500 });

const CreateBody = Type.Object(
  { url: Url, events: Events, description: Type.Optional(Description) },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    enabled: Type.Optional(Type.Boolean()),
    description: Type.Optional(Description),
  },
  { additionalProperties: false, minProperties: 1 },
);
const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const columns = `id, url, description, events, enabled, disabled_reason, created_at, updated_at`;

interface EndpointRow {
  id: string | number;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

const view = (row: EndpointRow) => ({ ...row, id: Number(row.id) });

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (
  app,
  { db, clock, egress },
) => {
  app.addHook('onRequest', async (request) => requireAdmin(request));

  app.post('/v1/webhooks', { schema: { body: CreateBody } }, async (request, reply) => {
    const { url, events, description = '' } = request.body;
    await checkWebhookUrl(url, egress);
    const secret = generateWebhookSecret();
    const now = new Date(clock.now());
    const row = (
      await db.query<EndpointRow>(
        `INSERT INTO webhook_endpoints (tenant_id, url, description, events, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ${columns}`,
        [request.principal.tenantId, url, description, events, secret, now],
      )
    ).rows[0]!;
    return reply
      .code(201)
      .header('location', `/v1/webhooks/${row.id}`)
      .send({ ...view(row), secret });
  });

  app.get('/v1/webhooks', { schema: { querystring: ListQuery } }, async (request) => {
    const limit = pageSize(request.principal.tier, request.query.limit);
    const after: Cursor | undefined = request.query.cursor
      ? decodeCursor(request.query.cursor, Number.MAX_SAFE_INTEGER)
      : undefined;
    const values: unknown[] = [request.principal.tenantId, limit + 1];
    if (after) values.push(after.at, after.id);
    const { rows } = await db.query<EndpointRow & { sort_at: string }>(
      `SELECT ${columns}, created_at::text AS sort_at FROM webhook_endpoints WHERE tenant_id = $1
       ${after ? 'AND (created_at, id) < ($3::timestamptz, $4::bigint)' : ''}
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      values,
    );
    return page(
      rows.map((row) => ({ ...row, id: Number(row.id) })),
      limit,
      (row) => row.sort_at,
      ({ sort_at: _, ...rest }) => rest,
    );
  });

  const find = async (tenantId: number, id: number) => {
    const row = (
      await db.query<EndpointRow>(
        `SELECT ${columns} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      )
    ).rows[0];
    if (!row) throw notFound('webhook endpoint', id);
    return row;
  };

  app.get('/v1/webhooks/:id', { schema: { params: IdParams } }, async (request) =>
    view(await find(request.principal.tenantId, request.params.id)),
  );

  app.patch('/v1/webhooks/:id', { schema: { params: IdParams, body: PatchBody } }, async (request) => {
    const { url, events, enabled, description } = request.body;
    if (url !== undefined) await checkWebhookUrl(url, egress);
    const row = (
      await db.query<EndpointRow>(
        `UPDATE webhook_endpoints SET url = coalesce($3, url), events = coalesce($4, events),
           enabled = coalesce($5, enabled), description = coalesce($6, description),
           disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END, updated_at = $7
         WHERE tenant_id = $1 AND id = $2 RETURNING ${columns}`,
        [
          request.principal.tenantId,
          request.params.id,
          url ?? null,
          events ?? null,
          enabled ?? null,
          description ?? null,
          new Date(clock.now()),
        ],
      )
    ).rows[0];
    if (!row) throw notFound('webhook endpoint', request.params.id);
    return view(row);
  });

  app.delete('/v1/webhooks/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const { rowCount } = await db.query('DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [
      request.principal.tenantId,
      request.params.id,
    ]);
    if (rowCount === 0) throw notFound('webhook endpoint', request.params.id);
    return reply.code(204).send();
  });

  app.post('/v1/webhooks/:id/rotate-secret', { schema: { params: IdParams } }, async (request) => {
    const secret = generateWebhookSecret();
    const now = clock.now();
    const row = (
      await db.query<{ id: string; previous_until: Date }>(
        `UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $4, secret = $3, updated_at = $5
         WHERE tenant_id = $1 AND id = $2 RETURNING id, previous_until`,
        [
          request.principal.tenantId,
          request.params.id,
          secret,
          new Date(now + rotationOverlapMs),
          new Date(now),
        ],
      )
    ).rows[0];
    if (!row) throw notFound('webhook endpoint', request.params.id);
    return { id: Number(row.id), secret, previous_secret_expires_at: row.previous_until.toISOString() };
  });
};
