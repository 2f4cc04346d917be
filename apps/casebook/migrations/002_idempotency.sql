-- Idempotency-Key records (@headroom/core/idempotency/postgres): the same DDL as idempotencyTableSql(),
-- which test/idempotency.test.ts keeps in step with this file.
CREATE TABLE IF NOT EXISTS headroom_idempotency (
  key text PRIMARY KEY,
  fingerprint text NOT NULL,
  token text,
  locked_until bigint NOT NULL,
  expires_at bigint NOT NULL,
  response jsonb
);
CREATE INDEX IF NOT EXISTS headroom_idempotency_expires_at ON headroom_idempotency (expires_at);
