-- Webhook throughput (issue 14): the queue holds a whole group (job_groups: an endpoint whose circuit is open,
-- its later deliveries too) and counts running jobs by group in one index; webhooks fan out and record attempts
-- through functions PostgreSQL plans once per connection, attempts in batches.
-- Generated: jobsSchemaSql() then webhooksSchemaSql() (a test keeps it in step); both are idempotent.
-- Accepted by `headroom db lint`: the DROP INDEXes run in this migration's transaction, where CONCURRENTLY cannot,
-- bounded by the runner's lock_timeout.
-- squawk-ignore-file require-concurrent-index-deletion
CREATE SCHEMA IF NOT EXISTS headroom;
CREATE TABLE IF NOT EXISTS headroom.jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  tenant text NOT NULL DEFAULT '',
  payload jsonb NOT NULL DEFAULT 'null',
  state text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'running', 'done', 'dead', 'cancelled')),
  run_at bigint NOT NULL,
  created_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  timeout_ms integer,
  tenant_limit integer,
  lease_until bigint,
  worker text,
  progress smallint NOT NULL DEFAULT 0,
  message text,
  result jsonb,
  last_error text,
  reason text
);
ALTER TABLE headroom.jobs ADD COLUMN IF NOT EXISTS grp text;
ALTER TABLE headroom.jobs ADD COLUMN IF NOT EXISTS group_limit integer;
DROP INDEX IF EXISTS headroom.jobs_ready;
DROP INDEX IF EXISTS headroom.jobs_lease;
DROP INDEX IF EXISTS headroom.jobs_running_group;
DROP INDEX IF EXISTS headroom.jobs_ready_group;
CREATE INDEX IF NOT EXISTS jobs_ready_ungrouped ON headroom.jobs (queue, tenant, id) WHERE state = 'ready' AND grp IS NULL;
CREATE INDEX IF NOT EXISTS jobs_ready_grouped ON headroom.jobs (queue, tenant, grp, run_at, id)
  WHERE state = 'ready' AND grp IS NOT NULL;
DROP INDEX IF EXISTS headroom.jobs_running;
CREATE INDEX IF NOT EXISTS jobs_running_by_group ON headroom.jobs (queue, tenant, grp) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_dead ON headroom.jobs (queue, id) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS jobs_finished ON headroom.jobs (finished_at) WHERE state IN ('done', 'cancelled', 'dead');
CREATE TABLE IF NOT EXISTS headroom.queues (
  queue text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS headroom.job_groups (
  queue text NOT NULL,
  tenant text NOT NULL,
  grp text NOT NULL,
  not_before bigint NOT NULL,
  PRIMARY KEY (queue, tenant, grp)
);
DROP FUNCTION IF EXISTS headroom.add_job(text, jsonb, text, bigint, integer, integer, integer, bigint);
CREATE OR REPLACE FUNCTION headroom.add_job(
  p_queue text,
  p_payload jsonb,
  p_tenant text DEFAULT '',
  p_run_at bigint DEFAULT NULL,
  p_max_attempts integer DEFAULT 5,
  p_timeout_ms integer DEFAULT NULL,
  p_tenant_limit integer DEFAULT NULL,
  p_now bigint DEFAULT NULL,
  p_group text DEFAULT NULL,
  p_group_limit integer DEFAULT NULL
) RETURNS bigint LANGUAGE plpgsql AS $add$
DECLARE
  added bigint;
  at bigint := coalesce(p_now, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
BEGIN
  INSERT INTO headroom.jobs (queue, tenant, payload, run_at, created_at, max_attempts, timeout_ms, tenant_limit, grp,
    group_limit)
  VALUES (p_queue, p_tenant, coalesce(p_payload, 'null'), coalesce(p_run_at, at), at, p_max_attempts,
    p_timeout_ms, p_tenant_limit, p_group, p_group_limit)
  RETURNING id INTO added;
  PERFORM pg_notify('headroom_jobs', 'q:' || p_queue);
  RETURN added;
END
$add$;
CREATE OR REPLACE FUNCTION headroom.fetch_jobs(p_queue text, p_now bigint, p_lease bigint, p_worker text, p_limit integer)
RETURNS SETOF headroom.jobs LANGUAGE plpgsql AS $fetch$
DECLARE
  tenants text[];
  running bigint[];
  -- Groups with ready jobs (tenant, group, running now), fewest running first: looked at only through an
  -- index, one probe per group, so a group at its limit with a backlog costs nothing to pass over.
  g_tenant text[];
  g_name text[];
  g_running bigint[];
  g_limit integer[] := '{}';
  g_limit_read boolean[] := '{}';
  best integer;
  lim integer;
  picked bigint;
  taken integer := 0;
  took boolean;
BEGIN
  IF EXISTS (SELECT 1 FROM headroom.queues q WHERE q.queue = p_queue AND q.paused) THEN
    RETURN;
  END IF;
  -- The groups with ready jobs (a loose index scan: one probe per tenant and group), with their running jobs.
  SELECT array_agg(c.tenant ORDER BY c.n, c.tenant, c.grp), array_agg(c.grp ORDER BY c.n, c.tenant, c.grp),
         array_agg(c.n ORDER BY c.n, c.tenant, c.grp)
  INTO g_tenant, g_name, g_running
  FROM (
    WITH RECURSIVE g(tenant, grp) AS (
      (SELECT j.tenant, j.grp FROM headroom.jobs j
       WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NOT NULL ORDER BY j.tenant, j.grp LIMIT 1)
      UNION ALL
      SELECT n.tenant, n.grp FROM g CROSS JOIN LATERAL (
        SELECT j.tenant, j.grp FROM headroom.jobs j
        WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NOT NULL AND (j.tenant, j.grp) > (g.tenant, g.grp)
        ORDER BY j.tenant, j.grp LIMIT 1) n
    )
    SELECT g.tenant, g.grp,
           (SELECT count(*) FROM headroom.jobs r
            WHERE r.queue = p_queue AND r.state = 'running' AND r.tenant = g.tenant AND r.grp = g.grp) AS n
    FROM g
    -- A group held (postpone) is passed over, its jobs and the ones enqueued since alike.
    WHERE NOT EXISTS (SELECT 1 FROM headroom.job_groups h
                      WHERE h.queue = p_queue AND h.tenant = g.tenant AND h.grp = g.grp AND h.not_before > p_now)
  ) c;
  -- The tenants with ready jobs, in a group or not (one probe per tenant), fewest running first.
  SELECT array_agg(c.tenant ORDER BY c.n, c.tenant), array_agg(c.n ORDER BY c.n, c.tenant)
  INTO tenants, running
  FROM (
    SELECT t.tenant,
           (SELECT count(*) FROM headroom.jobs r
            WHERE r.queue = p_queue AND r.state = 'running' AND r.tenant = t.tenant) AS n
    FROM (
      WITH RECURSIVE u(tenant) AS (
        (SELECT j.tenant FROM headroom.jobs j
         WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NULL ORDER BY j.tenant LIMIT 1)
        UNION ALL
        SELECT (SELECT j.tenant FROM headroom.jobs j
                WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NULL AND j.tenant > u.tenant
                ORDER BY j.tenant LIMIT 1)
        FROM u WHERE u.tenant IS NOT NULL
      )
      SELECT u.tenant FROM u WHERE u.tenant IS NOT NULL
      UNION
      SELECT DISTINCT x.tenant FROM unnest(g_tenant) AS x(tenant)
    ) t
  ) c;
  IF tenants IS NULL THEN
    RETURN;
  END IF;
  -- Round robin: one job of each tenant in turn, until p_limit or nothing more can be taken.
  LOOP
    took := false;
    FOR i IN 1 .. array_length(tenants, 1) LOOP
      EXIT WHEN taken >= p_limit;
      CONTINUE WHEN tenants[i] IS NULL;
      picked := NULL;
      -- A job of no group: the tenant's oldest whose time has come.
      SELECT j.id INTO picked FROM headroom.jobs j
      WHERE j.queue = p_queue AND j.tenant = tenants[i] AND j.state = 'ready' AND j.grp IS NULL
        AND j.run_at <= p_now AND (j.tenant_limit IS NULL OR running[i] < j.tenant_limit)
      ORDER BY j.id LIMIT 1
      FOR UPDATE SKIP LOCKED;
      -- Else a job of the tenant's group with the fewest running now, under its limit: the one due longest. Each
      -- pick chooses again, so one batch spreads over the groups instead of filling the first ones to their cap.
      IF picked IS NULL AND g_tenant IS NOT NULL THEN
        LOOP
          best := NULL;
          FOR k IN 1 .. array_length(g_tenant, 1) LOOP
            CONTINUE WHEN g_tenant[k] IS DISTINCT FROM tenants[i];
            IF g_limit[k] IS NULL AND g_limit_read[k] IS NOT TRUE THEN
              SELECT j.group_limit INTO lim FROM headroom.jobs j
              WHERE j.queue = p_queue AND j.tenant = tenants[i] AND j.grp = g_name[k] AND j.state = 'ready' LIMIT 1;
              g_limit[k] := lim;
              g_limit_read[k] := true;
            END IF;
            CONTINUE WHEN g_limit[k] IS NOT NULL AND g_running[k] >= g_limit[k];
            IF best IS NULL OR g_running[k] < g_running[best] THEN
              best := k;
            END IF;
          END LOOP;
          EXIT WHEN best IS NULL;
          SELECT j.id INTO picked FROM headroom.jobs j
          WHERE j.queue = p_queue AND j.tenant = tenants[i] AND j.grp = g_name[best] AND j.state = 'ready'
            AND j.run_at <= p_now AND (j.tenant_limit IS NULL OR running[i] < j.tenant_limit)
          ORDER BY j.run_at, j.id LIMIT 1
          FOR UPDATE SKIP LOCKED;
          IF picked IS NOT NULL THEN
            g_running[best] := g_running[best] + 1;
            EXIT;
          END IF;
          g_tenant[best] := NULL; -- nothing of this group due now (or all locked): not looked at again
        END LOOP;
      END IF;
      IF picked IS NULL THEN
        tenants[i] := NULL; -- none left for now (taken, locked, not yet due, or at a limit)
        CONTINUE;
      END IF;
      RETURN QUERY UPDATE headroom.jobs SET state = 'running', attempts = attempts + 1, started_at = p_now,
        lease_until = p_now + p_lease, worker = p_worker
      WHERE id = picked RETURNING *;
      running[i] := running[i] + 1;
      taken := taken + 1;
      took := true;
    END LOOP;
    EXIT WHEN taken >= p_limit OR NOT took;
  END LOOP;
END
$fetch$;
DROP FUNCTION IF EXISTS headroom.fetch_job(text, bigint, bigint, text);
CREATE TABLE IF NOT EXISTS headroom.webhook_endpoints (
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
CREATE INDEX IF NOT EXISTS webhook_endpoints_tenant ON headroom.webhook_endpoints (tenant, id);
CREATE INDEX IF NOT EXISTS webhook_endpoints_failing ON headroom.webhook_endpoints (failing_since)
  WHERE failing_since IS NOT NULL;
CREATE TABLE IF NOT EXISTS headroom.webhook_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL DEFAULT 'null',
  occurred_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS headroom.webhook_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  endpoint_id bigint NOT NULL REFERENCES headroom.webhook_endpoints (id) ON DELETE CASCADE,
  event_id bigint NOT NULL REFERENCES headroom.webhook_events (id) ON DELETE CASCADE,
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
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON headroom.webhook_deliveries (endpoint_id, id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_failed ON headroom.webhook_deliveries (endpoint_id, created_at)
  WHERE state = 'failed';
CREATE TABLE IF NOT EXISTS headroom.webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES headroom.webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  at bigint NOT NULL,
  duration_ms integer NOT NULL,
  status integer,
  response text,
  error text
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON headroom.webhook_attempts (delivery_id, id);
CREATE OR REPLACE FUNCTION headroom.publish_webhook(p_tenant text, p_type text, p_data jsonb, p_now bigint DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $publish$
DECLARE
  at bigint := coalesce(p_now, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
  added bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM headroom.webhook_endpoints e
                 WHERE e.tenant = p_tenant AND e.enabled AND p_type = ANY (e.events)) THEN
    RETURN NULL;
  END IF;
  INSERT INTO headroom.webhook_events (tenant, type, data, occurred_at)
  VALUES (p_tenant, p_type, coalesce(p_data, 'null'), at) RETURNING id INTO added;
  PERFORM headroom.add_job('webhook-events', jsonb_build_object('event', added), p_tenant, at, 5, NULL, NULL, at);
  RETURN added;
END
$publish$;
CREATE OR REPLACE FUNCTION headroom.fan_out_webhook(p_event bigint, p_now bigint, p_max_attempts integer,
  p_timeout_ms integer, p_group_limit integer)
RETURNS integer LANGUAGE plpgsql AS $fan$
DECLARE
  added integer;
BEGIN
  -- Each delivery's id is drawn first, so that its job (which names it) and the row (which names the job) are
  -- written by one statement; one NOTIFY for all of them.
  WITH ev AS (SELECT id, tenant, type, data, occurred_at FROM headroom.webhook_events WHERE id = p_event),
  targets AS (SELECT nextval(pg_get_serial_sequence('headroom.webhook_deliveries', 'id')) AS id,
                ev.tenant, e.id AS endpoint_id, ev.id AS event_id, ev.type, ev.data, ev.occurred_at
              FROM ev JOIN headroom.webhook_endpoints e ON e.tenant = ev.tenant AND e.enabled AND ev.type = ANY (e.events)
              WHERE NOT EXISTS (SELECT 1 FROM headroom.webhook_deliveries d
                                WHERE d.event_id = ev.id AND d.endpoint_id = e.id)),
  queued AS (INSERT INTO headroom.jobs (queue, tenant, payload, run_at, created_at, max_attempts, timeout_ms, grp,
               group_limit)
             SELECT 'webhook-deliveries', t.tenant,
               jsonb_build_object('delivery', t.id, 'endpoint', t.endpoint_id, 'event', t.event_id, 'type', t.type,
                 'data', t.data, 'at', t.occurred_at),
               p_now, p_now, p_max_attempts, p_timeout_ms, t.endpoint_id::text, p_group_limit
             FROM targets t
             RETURNING id, (payload->>'delivery')::bigint AS delivery),
  saved AS (INSERT INTO headroom.webhook_deliveries (id, tenant, endpoint_id, event_id, created_at, updated_at, job_id)
           OVERRIDING SYSTEM VALUE
           SELECT t.id, t.tenant, t.endpoint_id, t.event_id, p_now, p_now, q.id
           FROM targets t JOIN queued q ON q.delivery = t.id
           ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING id)
  SELECT count(*)::int INTO added FROM saved;
  IF added > 0 THEN
    PERFORM pg_notify('headroom_jobs', 'q:webhook-deliveries');
  END IF;
  RETURN added;
END
$fan$;
CREATE OR REPLACE FUNCTION headroom.record_webhook_attempts(p_ids bigint[], p_attempts integer[], p_ats bigint[],
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
  d AS (UPDATE headroom.webhook_deliveries w SET state = a.state, attempts = w.attempts + 1, last_status = a.status,
          last_error = a.error, updated_at = a.at,
          delivered_at = CASE WHEN a.state = 'delivered' THEN a.at ELSE w.delivered_at END
        FROM a WHERE w.id = a.id RETURNING w.id),
  added AS (INSERT INTO headroom.webhook_attempts (delivery_id, attempt, at, duration_ms, status, response, error)
            SELECT a.id, a.attempt, a.at, a.duration_ms, a.status, a.response, a.error FROM a
            WHERE a.id IN (SELECT id FROM d))
  SELECT array_agg(id) INTO kept FROM d;
  -- Each endpoint's health once: its last word in the batch, a disabling first.
  UPDATE headroom.webhook_endpoints x SET
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
$record$;
