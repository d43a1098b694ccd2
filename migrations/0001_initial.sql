-- Everything oidc-provider persists, one row per artifact. `grant_id`, `uid` and `user_code`
-- are copied out of the payload so the look-ups the library makes are index scans.
CREATE TABLE oidc_models (
  model       text        NOT NULL,
  id          text        NOT NULL,
  payload     jsonb       NOT NULL,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_uid ON oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_user_code ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_models_expires_at ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;

-- Registered clients. `source` says who owns a row: 'config' rows are replaced on every
-- config sync; nothing else writes here yet.
CREATE TABLE clients (
  client_id  text        PRIMARY KEY,
  metadata   jsonb       NOT NULL,
  source     text        NOT NULL DEFAULT 'config',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Token signing keys (private JWKs) and cookie signing keys (random secrets).
CREATE TABLE keys (
  kid         text        PRIMARY KEY,
  kind        text        NOT NULL CHECK (kind IN ('signing', 'cookie')),
  alg         text,
  material    jsonb       NOT NULL,
  state       text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);
CREATE INDEX keys_kind_state ON keys (kind, state);

CREATE TABLE users (
  sub                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  username            text        NOT NULL,
  email               text,
  email_verified      boolean     NOT NULL DEFAULT false,
  name                text,
  given_name          text,
  family_name         text,
  password_hash       text,
  disabled            boolean     NOT NULL DEFAULT false,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz
);
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));
CREATE UNIQUE INDEX users_email_ci ON users (lower(email)) WHERE email IS NOT NULL;

-- What each user consented to, per client, so a later authorization (even in a new session)
-- asks only for what is new. Deleted with the user.
CREATE TABLE consents (
  sub             uuid        NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
  client_id       text        NOT NULL,
  scope           text        NOT NULL DEFAULT '',
  claims          jsonb       NOT NULL DEFAULT '[]',
  resource_scopes jsonb       NOT NULL DEFAULT '{}',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sub, client_id)
);
