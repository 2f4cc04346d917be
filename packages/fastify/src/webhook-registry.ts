// The app's webhook sending, as metrics and the admin API see it: `app.headroom.webhooks.add(webhooks)`
// subscribes to its attempts and reads its counts when /metrics asks. Its queues (`webhook-events`,
// `webhook-deliveries`) are the job registry's: depth, dead letters and their /health warnings come from there.

import type { Clock } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import type { WebhookCounts, Webhooks } from '@headroom/core/webhooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from './metric-series.ts';

/**
 * What `app.headroom.webhooks` offers.
 *
 * @example
 * app.headroom.webhooks.add(createWebhooks({ jobs }));
 */
export interface WebhookRegistry {
  /**
   * Tracks webhook sending: `headroom_webhook_attempts_total{result}`, `headroom_webhook_attempt_seconds{result}`,
   * `headroom_webhook_delivery_seconds` (event → delivered), `headroom_webhook_pending{endpoint_state}`,
   * `headroom_webhook_endpoints{state}` and `headroom_webhook_endpoints_disabled_total` in /metrics, and the admin
   * route of failing endpoints. Returns it.
   */
  add(webhooks: Webhooks): Webhooks;
  /** The tracked webhook sender, if any. */
  readonly webhooks: Webhooks | undefined;
}

const endpointStates = ['healthy', 'failing', 'disabled'] as const;

/**
 * Registers the webhook metrics in `registry`.
 *
 * @example
 * const webhooks = createWebhookRegistry(registry, clock);
 */
export function createWebhookRegistry(registry: Registry, clock: Clock): WebhookRegistry {
  let tracked: Webhooks | undefined;
  let cached: { at: number; counts: Promise<WebhookCounts> } | undefined;
  const counts = (): Promise<WebhookCounts | undefined> => {
    if (!tracked) return Promise.resolve(undefined);
    const now = clock.monotonic();
    if (cached === undefined || now - cached.at >= 1_000) {
      const read = tracked.counts();
      cached = { at: now, counts: read };
      read.catch(() => {
        if (cached?.counts === read) cached = undefined;
      });
    }
    return cached.counts;
  };
  new Gauge({
    name: 'headroom_webhook_pending',
    help: 'Deliveries not yet delivered nor given up, by the state of their endpoint (healthy, failing, disabled).',
    labelNames: ['endpoint_state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const found = await counts().catch(() => undefined);
      if (found)
        for (const state of endpointStates) this.set({ endpoint_state: state }, found.pending[state]);
    },
  });
  new Gauge({
    name: 'headroom_webhook_endpoints',
    help: 'Webhook endpoints by state: healthy, failing (every delivery failing since a time), disabled.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const found = await counts().catch(() => undefined);
      if (found) for (const state of endpointStates) this.set({ state }, found.endpoints[state]);
    },
  });
  const attempts = new CounterFamily({
    name: 'headroom_webhook_attempts_total',
    help: 'Delivery attempts by result: delivered, retry (failed, another scheduled), failed (none left), gone (410), skipped.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const attemptTime = new HistogramFamily({
    name: 'headroom_webhook_attempt_seconds',
    help: 'How long one delivery attempt took, connection to answer, by result.',
    labelNames: ['result'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'headroom_webhook_delivery_seconds',
    help: 'From the event (its transaction) to its delivery to an endpoint, retries included.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [registry],
  });
  const disabled = new Counter({
    name: 'headroom_webhook_endpoints_disabled_total',
    help: 'Endpoints Headroom disabled: the receiver answered 410, or every delivery failed for too long.',
    registers: [registry],
  });
  return {
    get webhooks() {
      return tracked;
    },
    add(webhooks) {
      if (tracked !== undefined) {
        throw invalidOption('app.headroom.webhooks.add', 'webhooks', 'one webhook sender per app', webhooks);
      }
      tracked = webhooks;
      webhooks.onAttempt((e) => {
        attempts.labels(e.result).inc();
        attemptTime.labels(e.result).observe(e.durationMs / 1000);
        if (e.latencyMs !== undefined) latency.observe(e.latencyMs / 1000);
      });
      webhooks.onDisabled(() => disabled.inc());
      return webhooks;
    },
  };
}
