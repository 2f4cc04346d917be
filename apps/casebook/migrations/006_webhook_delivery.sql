-- Webhook delivery (issue 14): the job queue gains groups (an endpoint's concurrency cap) and postponing, and
-- @headroom/core/webhooks takes over the endpoints table of 005 with its outbox, deliveries and attempts.
-- Generated: jobsSchemaSql() then webhooksSchemaSql() (a test keeps it in step).
-- Accepted by `headroom db lint`: the DROP INDEXes run in this migration's transaction, where CONCURRENTLY cannot,
-- bounded by the runner's lock_timeout; 005's webhook_endpoints gives way to headroom.webhook_endpoints.
-- squawk-ignore-file require-concurrent-index-deletion
-- squawk-ignore ban-drop-table
DROP TABLE IF EXISTS webhook_endpoints;
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
CREATE INDEX IF NOT EXISTS jobs_running ON headroom.jobs (queue, tenant) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_dead ON headroom.jobs (queue, id) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS jobs_finished ON headroom.jobs (finished_at) WHERE state IN ('done', 'cancelled', 'dead');
CREATE TABLE IF NOT EXISTS headroom.queues (
  queue text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false
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
-- export.completed, in the transaction that marks the export's job done (the job queue's completion write):
-- the event exists if and only if the export is done.
CREATE FUNCTION casebook_export_completed() RETURNS trigger LANGUAGE plpgsql AS $completed$
DECLARE
  data jsonb;
BEGIN
  SELECT jsonb_build_object('id', e.id, 'kind', e.kind, 'format', e.format, 'rows', e.rows, 'bytes', e.bytes,
           'download_url', '/v1/exports/' || e.id || '/download', 'created_at', e.created_at)
  INTO data FROM exports e WHERE e.id = (NEW.payload ->> 'exportId')::bigint AND e.tenant_id::text = NEW.tenant;
  IF data IS NOT NULL THEN
    PERFORM headroom.publish_webhook(NEW.tenant, 'export.completed', data, NEW.finished_at);
  END IF;
  RETURN NULL;
END
$completed$;
CREATE TRIGGER export_completed AFTER UPDATE OF state ON headroom.jobs
  FOR EACH ROW WHEN (NEW.queue = 'exports' AND NEW.state = 'done' AND OLD.state IS DISTINCT FROM 'done')
  EXECUTE FUNCTION casebook_export_completed();
