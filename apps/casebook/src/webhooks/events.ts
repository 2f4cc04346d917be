// Casebook's webhook events, published into the transaction of the write that causes them (the outbox):
// `case.created`, `case.updated` and `comment.created` by the routes, `export.completed` by a trigger on the
// export job's completion (migrations/006_webhook_delivery.sql).

import type { Webhooks } from '@headroom/core/webhooks';
import type { Queryable } from '../db/database.ts';
import type { WebhookEventType } from './routes.ts';

/** Records an event in `tx` (the write's transaction) for the tenant's subscribed endpoints. */
export type PublishEvent = (
  tx: Queryable,
  tenantId: number,
  type: WebhookEventType,
  data: unknown,
) => Promise<void>;

/** Publishes nothing: an app built without webhooks. */
export const publishNothing: PublishEvent = async () => {};

/**
 * The publisher of `webhooks`.
 *
 * @example
 * await db.transaction(async (tx) => { const row = await insert(tx); await publish(tx, tenantId, 'case.created', row); });
 */
export function eventPublisher(webhooks: Webhooks): PublishEvent {
  return async (tx, tenantId, type, data) => {
    await webhooks.publish(tx as never, { tenant: String(tenantId), type, data });
  };
}
