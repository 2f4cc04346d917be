-- The job queue (@headroom/core/jobs): jobsSchemaSql() as it was then; 006 brings it up to date.
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
CREATE INDEX IF NOT EXISTS jobs_ready ON headroom.jobs (queue, tenant, id) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS jobs_running ON headroom.jobs (queue, tenant) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_lease ON headroom.jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_dead ON headroom.jobs (queue, id) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS jobs_finished ON headroom.jobs (finished_at) WHERE state IN ('done', 'cancelled', 'dead');
CREATE TABLE IF NOT EXISTS headroom.queues (
  queue text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false
);
CREATE OR REPLACE FUNCTION headroom.add_job(
  p_queue text,
  p_payload jsonb,
  p_tenant text DEFAULT '',
  p_run_at bigint DEFAULT NULL,
  p_max_attempts integer DEFAULT 5,
  p_timeout_ms integer DEFAULT NULL,
  p_tenant_limit integer DEFAULT NULL,
  p_now bigint DEFAULT NULL
) RETURNS bigint LANGUAGE plpgsql AS $add$
DECLARE
  added bigint;
  at bigint := coalesce(p_now, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
BEGIN
  INSERT INTO headroom.jobs (queue, tenant, payload, run_at, created_at, max_attempts, timeout_ms, tenant_limit)
  VALUES (p_queue, p_tenant, coalesce(p_payload, 'null'), coalesce(p_run_at, at), at, p_max_attempts,
    p_timeout_ms, p_tenant_limit)
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
  picked bigint;
  taken integer := 0;
  took boolean;
BEGIN
  IF EXISTS (SELECT 1 FROM headroom.queues q WHERE q.queue = p_queue AND q.paused) THEN
    RETURN;
  END IF;
  -- The tenants with ready jobs (a loose index scan: one probe per tenant), fewest running first.
  SELECT array_agg(c.tenant ORDER BY c.n, c.tenant), array_agg(c.n ORDER BY c.n, c.tenant)
  INTO tenants, running
  FROM (
    WITH RECURSIVE t(tenant) AS (
      (SELECT j.tenant FROM headroom.jobs j WHERE j.queue = p_queue AND j.state = 'ready' ORDER BY j.tenant LIMIT 1)
      UNION ALL
      SELECT (SELECT j.tenant FROM headroom.jobs j
              WHERE j.queue = p_queue AND j.state = 'ready' AND j.tenant > t.tenant ORDER BY j.tenant LIMIT 1)
      FROM t WHERE t.tenant IS NOT NULL
    )
    SELECT t.tenant,
           (SELECT count(*) FROM headroom.jobs r
            WHERE r.queue = p_queue AND r.state = 'running' AND r.tenant = t.tenant) AS n
    FROM t WHERE t.tenant IS NOT NULL
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
      SELECT j.id INTO picked FROM headroom.jobs j
      WHERE j.queue = p_queue AND j.tenant = tenants[i] AND j.state = 'ready' AND j.run_at <= p_now
        AND (j.tenant_limit IS NULL OR running[i] < j.tenant_limit)
      ORDER BY j.id LIMIT 1
      FOR UPDATE SKIP LOCKED;
      IF picked IS NULL THEN
        tenants[i] := NULL; -- none left for now (taken, locked, not yet due, or at its limit)
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
