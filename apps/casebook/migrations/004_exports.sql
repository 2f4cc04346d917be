-- Exports (POST /v1/exports): what was asked, and the file, stored in chunks so that any instance can serve it and
-- none holds it whole in memory. Status, progress and errors are the export job's (headroom.jobs, job_id).
CREATE TABLE exports (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  integer NOT NULL REFERENCES tenants (id),
  user_id    integer NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('cases')),
  format     text NOT NULL CHECK (format IN ('csv', 'ndjson')),
  filter     jsonb NOT NULL,
  job_id     bigint,
  rows       integer,
  bytes      bigint,
  created_at timestamptz NOT NULL,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX exports_tenant_created ON exports (tenant_id, created_at DESC);

CREATE TABLE export_chunks (
  export_id bigint NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
  seq       integer NOT NULL,
  data      bytea NOT NULL,
  PRIMARY KEY (export_id, seq)
);
