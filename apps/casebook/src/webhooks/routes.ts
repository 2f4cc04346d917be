// Webhook endpoints of a tenant and their deliveries (issue 14), managed by the tenant's admins; the work is
// @headroom/core/webhooks'. Every URL is checked for egress on registration and on change (public addresses
// only, unless `WEBHOOK_ALLOWED_HOSTS` allows a local receiver). The secret is shown once, at creation and at
// rotation; after a rotation the previous one keeps signing beside the new one for 24 h.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type {
  WebhookAttemptRecord,
  WebhookDelivery,
  WebhookEndpoint,
  Webhooks,
} from '@headroom/core/webhooks';
import { Type } from 'typebox';
import { requireAdmin } from '../auth/authenticate.ts';
import { decodeIdCursor, idPage } from '../http/cursor.ts';
import { Id, IdParams } from '../http/params.ts';
import { notFound } from '../http/problems.ts';
import type { SettingsSource } from '../settings.ts';
import { pageSize } from '../tenancy/tiers.ts';

export interface WebhookRoutesOptions {
  webhooks: Webhooks;
  /** Page caps in force (casebook.yaml). */
  settings: SettingsSource;
}

/** The events an endpoint can subscribe to. */
export const webhookEvents = ['case.created', 'case.updated', 'comment.created', 'export.completed'] as const;

/** One of {@link webhookEvents}. */
export type WebhookEventType = (typeof webhookEvents)[number];

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
const DeliveriesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    state: Type.Optional(
      Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    ),
  },
  { additionalProperties: false },
);
const DeliveryParams = Type.Object({ id: Id, did: Id }, { additionalProperties: false });
const RecoverBody = Type.Object(
  { since: Type.String({ format: 'date-time', maxLength: 40 }) },
  { additionalProperties: false },
);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function endpointView(endpoint: WebhookEndpoint) {
  return {
    id: Number(endpoint.id),
    url: endpoint.url,
    description: endpoint.description,
    events: endpoint.events,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason,
    failing_since: iso(endpoint.failingSince),
    created_at: iso(endpoint.createdAt),
    updated_at: iso(endpoint.updatedAt),
  };
}

function deliveryView(delivery: WebhookDelivery) {
  return {
    id: Number(delivery.id),
    endpoint_id: Number(delivery.endpointId),
    message_id: delivery.messageId,
    event_type: delivery.eventType,
    state: delivery.state,
    attempts: delivery.attempts,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    delivered_at: iso(delivery.deliveredAt),
  };
}

const attemptView = (attempt: WebhookAttemptRecord) => ({
  attempt: attempt.attempt,
  at: iso(attempt.at),
  duration_ms: attempt.durationMs,
  status: attempt.status,
  response: attempt.response,
  error: attempt.error,
});

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (
  app,
  { webhooks, settings },
) => {
  app.addHook('onRequest', async (request) => requireAdmin(request));
  const tenantOf = (request: { principal: { tenantId: number } }) => String(request.principal.tenantId);

  app.post('/v1/webhooks', { schema: { body: CreateBody } }, async (request, reply) => {
    const { url, events, description = '' } = request.body;
    const { endpoint, secret } = await webhooks.createEndpoint({
      tenant: tenantOf(request),
      url,
      events,
      description,
    });
    return reply
      .code(201)
      .header('location', `/v1/webhooks/${endpoint.id}`)
      .send({ ...endpointView(endpoint), secret });
  });

  app.get('/v1/webhooks', { schema: { querystring: ListQuery } }, async (request) => {
    const limit = pageSize(settings, request.principal.tier, request.query.limit);
    const after = request.query.cursor ? decodeIdCursor(request.query.cursor) : undefined;
    const { items, next } = await webhooks.listEndpoints(tenantOf(request), {
      limit,
      ...(after ? { after: String(after) } : {}),
    });
    return idPage(items.map(endpointView), limit, next);
  });

  const find = async (request: { principal: { tenantId: number } }, id: number) => {
    const endpoint = await webhooks.getEndpoint(tenantOf(request), id);
    if (!endpoint) throw notFound('webhook endpoint', id);
    return endpoint;
  };

  app.get('/v1/webhooks/:id', { schema: { params: IdParams } }, async (request) =>
    endpointView(await find(request, request.params.id)),
  );

  app.patch('/v1/webhooks/:id', { schema: { params: IdParams, body: PatchBody } }, async (request) => {
    const endpoint = await webhooks.updateEndpoint(tenantOf(request), request.params.id, request.body);
    if (!endpoint) throw notFound('webhook endpoint', request.params.id);
    return endpointView(endpoint);
  });

  app.delete('/v1/webhooks/:id', { schema: { params: IdParams } }, async (request, reply) => {
    if (!(await webhooks.deleteEndpoint(tenantOf(request), request.params.id))) {
      throw notFound('webhook endpoint', request.params.id);
    }
    return reply.code(204).send();
  });

  app.post('/v1/webhooks/:id/rotate-secret', { schema: { params: IdParams } }, async (request) => {
    const rotated = await webhooks.rotateSecret(tenantOf(request), request.params.id);
    if (!rotated) throw notFound('webhook endpoint', request.params.id);
    return {
      id: request.params.id,
      secret: rotated.secret,
      previous_secret_expires_at: iso(rotated.previousExpiresAt),
    };
  });

  app.get(
    '/v1/webhooks/:id/deliveries',
    { schema: { params: IdParams, querystring: DeliveriesQuery } },
    async (request) => {
      await find(request, request.params.id); // another tenant's endpoint is a 404, not an empty list
      const limit = pageSize(settings, request.principal.tier, request.query.limit);
      const after = request.query.cursor ? decodeIdCursor(request.query.cursor) : undefined;
      const { items, next } = await webhooks.listDeliveries(tenantOf(request), request.params.id, {
        limit,
        ...(after ? { after: String(after) } : {}),
        ...(request.query.state ? { state: request.query.state } : {}),
      });
      return idPage(items.map(deliveryView), limit, next);
    },
  );

  app.get('/v1/webhooks/:id/deliveries/:did', { schema: { params: DeliveryParams } }, async (request) => {
    const delivery = await webhooks.getDelivery(tenantOf(request), request.params.id, request.params.did);
    if (!delivery) throw notFound('webhook delivery', request.params.did);
    return { ...deliveryView(delivery), history: delivery.attemptsMade.map(attemptView) };
  });

  app.post(
    '/v1/webhooks/:id/deliveries/:did/retry',
    { schema: { params: DeliveryParams } },
    async (request, reply) => {
      const retried = await webhooks.retryDelivery(tenantOf(request), request.params.id, request.params.did);
      if (!retried) throw notFound('webhook delivery', request.params.did);
      return reply
        .code(202)
        .header('location', `/v1/webhooks/${request.params.id}/deliveries/${request.params.did}`)
        .send({ id: request.params.did, state: retried.state });
    },
  );

  // Svix's "recover": every failed delivery of the endpoint since a time, sent again with its webhook-id.
  app.post(
    '/v1/webhooks/:id/recover',
    { schema: { params: IdParams, body: RecoverBody } },
    async (request, reply) => {
      const since = Date.parse(request.body.since);
      const count = await webhooks.recover(tenantOf(request), request.params.id, since);
      if (count === undefined) throw notFound('webhook endpoint', request.params.id);
      return reply.code(202).send({ id: request.params.id, redelivering: count });
    },
  );
};
