-- Second factors (src/mfa). An authenticator app (TOTP, RFC 6238) per user: its secret is
-- encrypted (AES-256-GCM, the user's sub as associated data) under a key kept outside this row:
-- MFA_ENCRYPTION_KEY when set, else the `mfa_encryption` row of server_secrets. `key_id` names
-- the key that sealed it, so keys can be rotated (README, "Second factors"). A secret counts only
-- once confirmed with a code; `last_used_step` is the last 30-second step accepted, so a code is
-- never accepted twice (the update that moves it forward is the check).
CREATE TABLE mfa_totp (
  sub            uuid        PRIMARY KEY REFERENCES users (sub) ON DELETE CASCADE,
  key_id         text        NOT NULL,
  secret_sealed  bytea       NOT NULL,
  confirmed_at   timestamptz,
  last_used_step bigint,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Ten single-use recovery codes per user, stored as HMAC-SHA-256 under the `recovery_codes`
-- server secret (the codes are random, 50 bits each, so a fast keyed hash is enough).
CREATE TABLE mfa_recovery_codes (
  sub        uuid        NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
  code_hash  bytea       NOT NULL,
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sub, code_hash)
);
