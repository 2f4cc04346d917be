// The job queue's tables and its fetch function, in a PostgreSQL schema of their own.

import { invalidOption } from '../errors/index.ts';

/**
 * The DDL of the queue (idempotent: `IF NOT EXISTS`, `CREATE OR REPLACE`); run it in a migration. Times are ms
 * since the epoch from the caller's clock, as for every Headroom store, so tests can move them.
 *
 * `add_job(queue, payload, tenant, run_at, max_attempts, timeout_ms, tenant_limit, now, group, group_limit)`
 * enqueues from SQL (a trigger, a migration, another language's client): the insert and its NOTIFY, as
 * `jobs.enqueue` does; times default to the database's clock.
 *
 * `fetch_jobs` takes up to `p_limit` jobs in one statement: the tenants with ready jobs in the order of their
 * running jobs (fewest first), one job each in turn (round robin), each tenant's oldest ready job whose time has
 * come, skipping locked rows, only while the tenant is under the job's `tenant_limit` and the queue is not
 * paused. Jobs in groups (a webhook endpoint, say) are taken from the tenant's group with the fewest running
 * under its `group_limit`, the one due longest first; a group at its limit is passed over in one index probe,
 * whatever its backlog; a group held by `jobs.postpone` (a row of `job_groups`) is passed over until its time, the
 * jobs enqueued to it meanwhile too. A tenant with a backlog never delays another's job by more than one job per worker slot.
 *
 * @example
 * await pool.query(jobsSchemaSql());
 */
export function jobsSchemaSql(schema = 'headroom'): string {
  const s = checkSchema(schema);
  return `CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.jobs (
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
ALTER TABLE ${s}.jobs ADD COLUMN IF NOT EXISTS grp text;
ALTER TABLE ${s}.jobs ADD COLUMN IF NOT EXISTS group_limit integer;
DROP INDEX IF EXISTS ${s}.jobs_ready;
DROP INDEX IF EXISTS ${s}.jobs_lease;
DROP INDEX IF EXISTS ${s}.jobs_running_group;
DROP INDEX IF EXISTS ${s}.jobs_ready_group;
CREATE INDEX IF NOT EXISTS jobs_ready_ungrouped ON ${s}.jobs (queue, tenant, id) WHERE state = 'ready' AND grp IS NULL;
CREATE INDEX IF NOT EXISTS jobs_ready_grouped ON ${s}.jobs (queue, tenant, grp, run_at, id)
  WHERE state = 'ready' AND grp IS NOT NULL;
DROP INDEX IF EXISTS ${s}.jobs_running;
CREATE INDEX IF NOT EXISTS jobs_running_by_group ON ${s}.jobs (queue, tenant, grp) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_dead ON ${s}.jobs (queue, id) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS jobs_finished ON ${s}.jobs (finished_at) WHERE state IN ('done', 'cancelled', 'dead');
CREATE TABLE IF NOT EXISTS ${s}.queues (
  queue text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS ${s}.job_groups (
  queue text NOT NULL,
  tenant text NOT NULL,
  grp text NOT NULL,
  not_before bigint NOT NULL,
  PRIMARY KEY (queue, tenant, grp)
);
DROP FUNCTION IF EXISTS ${s}.add_job(text, jsonb, text, bigint, integer, integer, integer, bigint);
CREATE OR REPLACE FUNCTION ${s}.add_job(
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
  INSERT INTO ${s}.jobs (queue, tenant, payload, run_at, created_at, max_attempts, timeout_ms, tenant_limit, grp,
    group_limit)
  VALUES (p_queue, p_tenant, coalesce(p_payload, 'null'), coalesce(p_run_at, at), at, p_max_attempts,
    p_timeout_ms, p_tenant_limit, p_group, p_group_limit)
  RETURNING id INTO added;
  PERFORM pg_notify('${jobsChannel(s)}', 'q:' || p_queue);
  RETURN added;
END
$add$;
CREATE OR REPLACE FUNCTION ${s}.fetch_jobs(p_queue text, p_now bigint, p_lease bigint, p_worker text, p_limit integer)
RETURNS SETOF ${s}.jobs LANGUAGE plpgsql AS $fetch$
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
  IF EXISTS (SELECT 1 FROM ${s}.queues q WHERE q.queue = p_queue AND q.paused) THEN
    RETURN;
  END IF;
  -- The groups with ready jobs (a loose index scan: one probe per tenant and group), with their running jobs.
  SELECT array_agg(c.tenant ORDER BY c.n, c.tenant, c.grp), array_agg(c.grp ORDER BY c.n, c.tenant, c.grp),
         array_agg(c.n ORDER BY c.n, c.tenant, c.grp)
  INTO g_tenant, g_name, g_running
  FROM (
    WITH RECURSIVE g(tenant, grp) AS (
      (SELECT j.tenant, j.grp FROM ${s}.jobs j
       WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NOT NULL ORDER BY j.tenant, j.grp LIMIT 1)
      UNION ALL
      SELECT n.tenant, n.grp FROM g CROSS JOIN LATERAL (
        SELECT j.tenant, j.grp FROM ${s}.jobs j
        WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NOT NULL AND (j.tenant, j.grp) > (g.tenant, g.grp)
        ORDER BY j.tenant, j.grp LIMIT 1) n
    )
    SELECT g.tenant, g.grp,
           (SELECT count(*) FROM ${s}.jobs r
            WHERE r.queue = p_queue AND r.state = 'running' AND r.tenant = g.tenant AND r.grp = g.grp) AS n
    FROM g
    -- A group held (postpone) is passed over, its jobs and the ones enqueued since alike.
    WHERE NOT EXISTS (SELECT 1 FROM ${s}.job_groups h
                      WHERE h.queue = p_queue AND h.tenant = g.tenant AND h.grp = g.grp AND h.not_before > p_now)
  ) c;
  -- The tenants with ready jobs, in a group or not (one probe per tenant), fewest running first.
  SELECT array_agg(c.tenant ORDER BY c.n, c.tenant), array_agg(c.n ORDER BY c.n, c.tenant)
  INTO tenants, running
  FROM (
    SELECT t.tenant,
           (SELECT count(*) FROM ${s}.jobs r
            WHERE r.queue = p_queue AND r.state = 'running' AND r.tenant = t.tenant) AS n
    FROM (
      WITH RECURSIVE u(tenant) AS (
        (SELECT j.tenant FROM ${s}.jobs j
         WHERE j.queue = p_queue AND j.state = 'ready' AND j.grp IS NULL ORDER BY j.tenant LIMIT 1)
        UNION ALL
        SELECT (SELECT j.tenant FROM ${s}.jobs j
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
      SELECT j.id INTO picked FROM ${s}.jobs j
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
              SELECT j.group_limit INTO lim FROM ${s}.jobs j
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
          SELECT j.id INTO picked FROM ${s}.jobs j
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
      RETURN QUERY UPDATE ${s}.jobs SET state = 'running', attempts = attempts + 1, started_at = p_now,
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
DROP FUNCTION IF EXISTS ${s}.fetch_job(text, bigint, bigint, text);`;
}

/** The NOTIFY channel of the queue in `schema`: `q:<queue>` for new work, `c:<id>` for a cancellation. */
export function jobsChannel(schema: string): string {
  return `${schema}_jobs`;
}

/** The schema name, checked: it is written into SQL. */
export function checkSchema(schema: string): string {
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw invalidOption('jobs', 'schema', 'a plain lower-case identifier', schema);
  }
  return schema;
}
