// The tables of webhook sending, beside the job queue's in the same PostgreSQL schema: endpoints, the outbox of
// events, one delivery per event and endpoint, and every attempt of each.

import { checkSchema } from '../jobs/schema.ts';

/** The queue whose jobs fan an event out to its endpoints (one job per event). */
export const webhookEventsQueue = 'webhook-events';
/** The queue whose jobs send one event to one endpoint (one job per delivery, retried on the spec's schedule). */
export const webhookDeliveriesQueue = 'webhook-deliveries';

/**
 * The DDL of webhook sending (idempotent). It needs the job queue's schema first (`jobsSchemaSql(schema)`):
 * publishing enqueues through `add_job`. Times are ms since the epoch from the caller's clock.
 *
 * `publish_webhook(tenant, type, data, now)` is the outbox: it records the event and enqueues its fan-out, in
 * the caller's transaction, only when an enabled endpoint of the tenant subscribes to `type` (else it returns
 * NULL and writes nothing). SQL can call it too (a trigger, say).
 *
 * @example
 * await pool.query(jobsSchemaSql() + webhooksSchemaSql());
 */
export function webhooksSchemaSql(schema = 'headroom'): string {
  const s = checkSchema(schema);
  return `CREATE TABLE IF NOT EXISTS ${s}.webhook_endpoints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  url text NOT NULL,
  description text NOT NULL DEFAULT '',
  events text[] NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  secret text NOT NULL,
  previous_secret text,
  previous_until bigint,
  failing_since bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_endpoints_tenant ON ${s}.webhook_endpoints (tenant, id);
CREATE INDEX IF NOT EXISTS webhook_endpoints_failing ON ${s}.webhook_endpoints (failing_since)
  WHERE failing_since IS NOT NULL;
CREATE TABLE IF NOT EXISTS ${s}.webhook_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL DEFAULT 'null',
  occurred_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.webhook_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  endpoint_id bigint NOT NULL REFERENCES ${s}.webhook_endpoints (id) ON DELETE CASCADE,
  event_id bigint NOT NULL REFERENCES ${s}.webhook_events (id) ON DELETE CASCADE,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  job_id bigint,
  last_status integer,
  last_error text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  delivered_at bigint,
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON ${s}.webhook_deliveries (endpoint_id, id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_failed ON ${s}.webhook_deliveries (endpoint_id, created_at)
  WHERE state = 'failed';
CREATE TABLE IF NOT EXISTS ${s}.webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES ${s}.webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  at bigint NOT NULL,
  duration_ms integer NOT NULL,
  status integer,
  response text,
  error text
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON ${s}.webhook_attempts (delivery_id, id);
CREATE OR REPLACE FUNCTION ${s}.publish_webhook(p_tenant text, p_type text, p_data jsonb, p_now bigint DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $publish$
DECLARE
  at bigint := coalesce(p_now, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
  added bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ${s}.webhook_endpoints e
                 WHERE e.tenant = p_tenant AND e.enabled AND p_type = ANY (e.events)) THEN
    RETURN NULL;
  END IF;
  INSERT INTO ${s}.webhook_events (tenant, type, data, occurred_at)
  VALUES (p_tenant, p_type, coalesce(p_data, 'null'), at) RETURNING id INTO added;
  PERFORM ${s}.add_job('${webhookEventsQueue}', jsonb_build_object('event', added), p_tenant, at, 5, NULL, NULL, at);
  RETURN added;
END
$publish$;`;
}
