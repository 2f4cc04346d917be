// The tables of webhook sending, beside the job queue's in the same PostgreSQL schema: endpoints, the outbox of
// events, one delivery per event and endpoint, and every attempt of each.

import { checkSchema, jobsChannel } from '../jobs/schema.ts';

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
 * `fan_out_webhook(event, now, max_attempts, timeout_ms, group_limit)` adds a delivery and its job per enabled
 * endpoint subscribed, in one statement with one NOTIFY; `record_webhook_attempts(…arrays)` records a batch of
 * attempts, their deliveries' states and their endpoints' health. Both are functions so that PostgreSQL plans
 * them once per connection, not once per call.
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
$publish$;
CREATE OR REPLACE FUNCTION ${s}.fan_out_webhook(p_event bigint, p_now bigint, p_max_attempts integer,
  p_timeout_ms integer, p_group_limit integer)
RETURNS integer LANGUAGE plpgsql AS $fan$
DECLARE
  added integer;
BEGIN
  -- Each delivery's id is drawn first, so that its job (which names it) and the row (which names the job) are
  -- written by one statement; one NOTIFY for all of them.
  WITH ev AS (SELECT id, tenant, type, data, occurred_at FROM ${s}.webhook_events WHERE id = p_event),
  targets AS (SELECT nextval(pg_get_serial_sequence('${s}.webhook_deliveries', 'id')) AS id,
                ev.tenant, e.id AS endpoint_id, ev.id AS event_id, ev.type, ev.data, ev.occurred_at
              FROM ev JOIN ${s}.webhook_endpoints e ON e.tenant = ev.tenant AND e.enabled AND ev.type = ANY (e.events)
              WHERE NOT EXISTS (SELECT 1 FROM ${s}.webhook_deliveries d
                                WHERE d.event_id = ev.id AND d.endpoint_id = e.id)),
  queued AS (INSERT INTO ${s}.jobs (queue, tenant, payload, run_at, created_at, max_attempts, timeout_ms, grp,
               group_limit)
             SELECT '${webhookDeliveriesQueue}', t.tenant,
               jsonb_build_object('delivery', t.id, 'endpoint', t.endpoint_id, 'event', t.event_id, 'type', t.type,
                 'data', t.data, 'at', t.occurred_at),
               p_now, p_now, p_max_attempts, p_timeout_ms, t.endpoint_id::text, p_group_limit
             FROM targets t
             RETURNING id, (payload->>'delivery')::bigint AS delivery),
  saved AS (INSERT INTO ${s}.webhook_deliveries (id, tenant, endpoint_id, event_id, created_at, updated_at, job_id)
           OVERRIDING SYSTEM VALUE
           SELECT t.id, t.tenant, t.endpoint_id, t.event_id, p_now, p_now, q.id
           FROM targets t JOIN queued q ON q.delivery = t.id
           ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING id)
  SELECT count(*)::int INTO added FROM saved;
  IF added > 0 THEN
    PERFORM pg_notify('${jobsChannel(s)}', 'q:${webhookDeliveriesQueue}');
  END IF;
  RETURN added;
END
$fan$;
CREATE OR REPLACE FUNCTION ${s}.record_webhook_attempts(p_ids bigint[], p_attempts integer[], p_ats bigint[],
  p_durations integer[], p_statuses integer[], p_responses text[], p_errors text[], p_states text[],
  p_endpoints bigint[], p_actions text[], p_reasons text[])
RETURNS SETOF bigint LANGUAGE plpgsql AS $record$
DECLARE
  kept bigint[];
BEGIN
  -- The deliveries first: an attempt of one whose row does not exist (a fan-out that lost a race with another)
  -- is not recorded, and its id is not answered.
  WITH a AS (SELECT * FROM unnest(p_ids, p_attempts, p_ats, p_durations, p_statuses, p_responses, p_errors, p_states)
               AS a(id, attempt, at, duration_ms, status, response, error, state)),
  d AS (UPDATE ${s}.webhook_deliveries w SET state = a.state, attempts = w.attempts + 1, last_status = a.status,
          last_error = a.error, updated_at = a.at,
          delivered_at = CASE WHEN a.state = 'delivered' THEN a.at ELSE w.delivered_at END
        FROM a WHERE w.id = a.id RETURNING w.id),
  added AS (INSERT INTO ${s}.webhook_attempts (delivery_id, attempt, at, duration_ms, status, response, error)
            SELECT a.id, a.attempt, a.at, a.duration_ms, a.status, a.response, a.error FROM a
            WHERE a.id IN (SELECT id FROM d))
  SELECT array_agg(id) INTO kept FROM d;
  -- Each endpoint's health once: its last word in the batch, a disabling first.
  UPDATE ${s}.webhook_endpoints x SET
    failing_since = CASE c.action WHEN 'healthy' THEN NULL WHEN 'failing' THEN c.at ELSE x.failing_since END,
    enabled = CASE WHEN c.action = 'disable' THEN false ELSE x.enabled END,
    disabled_reason = CASE WHEN c.action = 'disable' THEN c.reason ELSE x.disabled_reason END,
    updated_at = c.at
  FROM (SELECT DISTINCT ON (e.endpoint) e.endpoint, e.action, e.reason, e.at
        FROM unnest(p_ids, p_endpoints, p_actions, p_reasons, p_ats) WITH ORDINALITY AS e(id, endpoint, action, reason, at, n)
        WHERE e.action <> 'same' AND e.id = ANY (kept)
        ORDER BY e.endpoint, e.action = 'disable' DESC, e.n DESC) c
  WHERE x.id = c.endpoint;
  RETURN QUERY SELECT unnest(kept);
END
$record$;`;
}
