// The job queue's tables and its fetch function, in a PostgreSQL schema of their own.

import { invalidOption } from '../errors/index.ts';

/**
 * The DDL of the queue (idempotent: `IF NOT EXISTS`, `CREATE OR REPLACE`); run it in a migration. Times are ms
 * since the epoch from the caller's clock, as for every Headroom store, so tests can move them.
 *
 * `fetch_job` takes one job in one statement: among the tenants with ready jobs, the one with the fewest
 * running (so a tenant with a backlog never delays another's job by more than one job per worker), its oldest
 * ready job whose time has come, skipping locked rows, and only while the tenant is under the job's
 * `tenant_limit` and the queue is not paused.
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
CREATE INDEX IF NOT EXISTS jobs_ready ON ${s}.jobs (queue, tenant, id) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS jobs_running ON ${s}.jobs (queue, tenant) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_lease ON ${s}.jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_dead ON ${s}.jobs (queue, id) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS jobs_finished ON ${s}.jobs (finished_at) WHERE state IN ('done', 'cancelled', 'dead');
CREATE TABLE IF NOT EXISTS ${s}.queues (
  queue text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false
);
CREATE OR REPLACE FUNCTION ${s}.fetch_job(p_queue text, p_now bigint, p_lease bigint, p_worker text)
RETURNS SETOF ${s}.jobs LANGUAGE plpgsql AS $fetch$
DECLARE
  candidate record;
  picked bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM ${s}.queues q WHERE q.queue = p_queue AND q.paused) THEN
    RETURN;
  END IF;
  -- The tenants with ready jobs (a loose index scan: one probe per tenant), fewest running first.
  FOR candidate IN
    WITH RECURSIVE tenants(tenant) AS (
      (SELECT j.tenant FROM ${s}.jobs j WHERE j.queue = p_queue AND j.state = 'ready' ORDER BY j.tenant LIMIT 1)
      UNION ALL
      SELECT (SELECT j.tenant FROM ${s}.jobs j
              WHERE j.queue = p_queue AND j.state = 'ready' AND j.tenant > t.tenant ORDER BY j.tenant LIMIT 1)
      FROM tenants t WHERE t.tenant IS NOT NULL
    )
    SELECT t.tenant,
           (SELECT count(*) FROM ${s}.jobs r
            WHERE r.queue = p_queue AND r.state = 'running' AND r.tenant = t.tenant) AS running
    FROM tenants t WHERE t.tenant IS NOT NULL
    ORDER BY running, t.tenant
  LOOP
    SELECT j.id INTO picked FROM ${s}.jobs j
    WHERE j.queue = p_queue AND j.tenant = candidate.tenant AND j.state = 'ready' AND j.run_at <= p_now
      AND (j.tenant_limit IS NULL OR candidate.running < j.tenant_limit)
    ORDER BY j.id LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF picked IS NOT NULL THEN
      RETURN QUERY UPDATE ${s}.jobs SET state = 'running', attempts = attempts + 1, started_at = p_now,
        lease_until = p_now + p_lease, worker = p_worker
      WHERE id = picked RETURNING *;
      RETURN;
    END IF;
  END LOOP;
END
$fetch$;`;
}

/** The schema name, checked: it is written into SQL. */
export function checkSchema(schema: string): string {
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw invalidOption('jobs', 'schema', 'a plain lower-case identifier', schema);
  }
  return schema;
}
