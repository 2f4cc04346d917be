export type { DeliverOptions, DeliveryAttempt, WebhookMessage } from './deliver.ts';
export { deliverWebhook, webhookAgent } from './deliver.ts';
export type { ConnectLookup, EgressOptions, ForbiddenRange, ResolvedAddress, Resolver } from './egress.ts';
export { checkWebhookUrl, forbiddenRange, vetHost, vettedLookup, webhookUrl } from './egress.ts';
export type { WebhookErrorCode } from './errors.ts';
export { webhookErrors } from './errors.ts';
export {
  standardWebhooksAttempts,
  standardWebhooksRetryDelay,
  standardWebhooksSchedule,
} from './retry-schedule.ts';
export { webhookDeliveriesQueue, webhookEventsQueue, webhooksSchemaSql } from './schema.ts';
export type { SignInput } from './signature.ts';
export { generateWebhookSecret, webhookHeaders } from './signature.ts';
export type {
  DeliveryState,
  WebhookAttemptEvent,
  WebhookAttemptRecord,
  WebhookCounts,
  WebhookDelivery,
  WebhookDisabledEvent,
  WebhookEndpoint,
  WebhookPage,
  WebhooksOptions,
} from './webhooks.ts';
export { createWebhooks, endpointBreaker, Webhooks } from './webhooks.ts';
