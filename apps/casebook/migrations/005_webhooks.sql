-- Webhook endpoints (POST /v1/webhooks): where a tenant's events go. The secret signs deliveries (Standard
-- Webhooks); after a rotation the previous one keeps signing beside it until previous_until.
CREATE TABLE webhook_endpoints (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id       integer NOT NULL REFERENCES tenants (id),
  url             text NOT NULL,
  description     text NOT NULL DEFAULT '',
  events          text[] NOT NULL,
  enabled         boolean NOT NULL DEFAULT true,
  disabled_reason text,
  secret          text NOT NULL,
  previous_secret text,
  previous_until  timestamptz,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  UNIQUE (tenant_id, id)
);
CREATE INDEX webhook_endpoints_tenant_created ON webhook_endpoints (tenant_id, created_at DESC, id DESC);
