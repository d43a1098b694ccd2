-- Sign-in through upstream identity providers (config `upstreams`, src/federation/).
--
-- A linked identity: the upstream's (issuer, sub) pair is the local user `sub`. One upstream
-- account belongs to one local user; a local user may have several (one per upstream or more).
-- `upstream_id` is the config id it was linked through (shown on /account); `issuer` is the
-- upstream's own issuer (OpenID Connect) or the id's `oauth2:<id>` namespace (plain OAuth 2.0).
CREATE TABLE upstream_identities (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  upstream_id   text        NOT NULL,
  issuer        text        NOT NULL,
  upstream_sub  text        NOT NULL,
  sub           uuid        NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (issuer, upstream_sub)
);
CREATE INDEX upstream_identities_sub ON upstream_identities (sub);

-- A sign-in in flight at an upstream: what the callback needs to check the answer (the nonce
-- and PKCE verifier never leave the server), bound to the Gatehouse interaction it started
-- from. Keyed by a SHA-256 of `state`, so the table never holds the value the browser carries.
-- `outcome` is the callback's verdict, taken by the interaction (which needs the interaction
-- cookie, scoped to /interaction/<uid>); rows live for minutes.
CREATE TABLE upstream_requests (
  state_hash      text        PRIMARY KEY,
  upstream_id     text        NOT NULL,
  interaction_uid text        NOT NULL,
  nonce           text        NOT NULL,
  code_verifier   text        NOT NULL,
  outcome         jsonb,
  attempts        integer     NOT NULL DEFAULT 0,
  expires_at      timestamptz NOT NULL
);
CREATE INDEX upstream_requests_expires ON upstream_requests (expires_at);
