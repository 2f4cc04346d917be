-- Casebook's schema. Every tenant-owned table carries tenant_id, and every reference between tenant-owned
-- rows is a composite foreign key on (tenant_id, id), so a row can never point into another tenant.

CREATE TABLE tenants (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name       text NOT NULL,
  tier       text NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orgs (
  id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id integer NOT NULL REFERENCES tenants (id),
  name      text NOT NULL,
  UNIQUE (tenant_id, id)
);

CREATE TABLE teams (
  id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id integer NOT NULL,
  org_id    integer NOT NULL,
  name      text NOT NULL,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, org_id) REFERENCES orgs (tenant_id, id)
);
CREATE INDEX teams_org ON teams (tenant_id, org_id);

CREATE TABLE users (
  id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     integer NOT NULL REFERENCES tenants (id),
  team_id       integer,
  email         text NOT NULL UNIQUE,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('admin', 'analyst')),
  password_hash text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id)
);
CREATE INDEX users_team ON users (tenant_id, team_id);

-- Bearer tokens from login. Only a SHA-256 of the token is stored; revoked_at ends it before expiry.
CREATE TABLE sessions (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  tenant_id  integer NOT NULL,
  user_id    integer NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- Long-lived API keys. The secret is shown once at creation; only its SHA-256 is kept.
CREATE TABLE api_keys (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  integer NOT NULL,
  user_id    integer NOT NULL,
  name       text NOT NULL,
  prefix     text NOT NULL,
  key_hash   bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE TABLE cases (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   integer NOT NULL REFERENCES tenants (id),
  title       text NOT NULL,
  description text NOT NULL DEFAULT '',
  status      text NOT NULL CHECK (status IN ('open', 'investigating', 'escalated', 'closed')),
  priority    text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
  owner_id    integer,
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  search      tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B')
              ) STORED,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);
-- Listing and keyset pagination, newest first, optionally by status.
CREATE INDEX cases_tenant_created ON cases (tenant_id, created_at DESC, id DESC);
CREATE INDEX cases_tenant_status_created ON cases (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX cases_search ON cases USING gin (search);
CREATE INDEX cases_owner ON cases (tenant_id, owner_id);

CREATE TABLE entities (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  integer NOT NULL REFERENCES tenants (id),
  kind       text NOT NULL CHECK (kind IN ('person', 'organization', 'account', 'device', 'address', 'ip')),
  name       text NOT NULL,
  attributes jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  UNIQUE (tenant_id, id)
);

CREATE TABLE case_entities (
  tenant_id  integer NOT NULL,
  case_id    integer NOT NULL,
  entity_id  integer NOT NULL,
  role       text NOT NULL DEFAULT 'related',
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, case_id, entity_id),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id),
  FOREIGN KEY (tenant_id, entity_id) REFERENCES entities (tenant_id, id)
);
CREATE INDEX case_entities_entity ON case_entities (tenant_id, entity_id);

CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   integer NOT NULL,
  case_id     integer NOT NULL,
  kind        text NOT NULL,
  summary     text NOT NULL,
  actor_id    integer,
  occurred_at timestamptz NOT NULL,
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id),
  FOREIGN KEY (tenant_id, actor_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX events_case_time ON events (tenant_id, case_id, occurred_at DESC, id DESC);

CREATE TABLE comments (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  integer NOT NULL,
  case_id    integer NOT NULL,
  author_id  integer NOT NULL,
  body       text NOT NULL,
  created_at timestamptz NOT NULL,
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id),
  FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX comments_case_time ON comments (tenant_id, case_id, created_at DESC, id DESC);
