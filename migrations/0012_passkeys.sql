-- Passkeys (WebAuthn credentials): several per user, each with the name the user gave it. The
-- public key is stored as the authenticator sent it (COSE); `counter` is the signature counter
-- (0 for authenticators that do not count, as synced passkeys do). `device_type` and `backed_up`
-- come from the authenticator data's BE/BS flags: a multi-device (synced) credential is reported
-- in `amr` as `swk`, a device-bound one as `hwk`.
CREATE TABLE webauthn_credentials (
  id            text        PRIMARY KEY,
  sub           uuid        NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
  public_key    bytea       NOT NULL,
  counter       bigint      NOT NULL DEFAULT 0,
  transports    text[]      NOT NULL DEFAULT '{}',
  name          text        NOT NULL,
  device_type   text        NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up     boolean     NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX webauthn_credentials_sub ON webauthn_credentials (sub);

-- Registration and authentication challenges: single use (deleted as they are checked), short
-- lived, and bound to what asked for them (`binding`: the /account session's uid or the sign-in
-- interaction's uid) and for what (`purpose`). Only a hash of the challenge is kept.
CREATE TABLE webauthn_challenges (
  challenge_hash text        PRIMARY KEY,
  purpose        text        NOT NULL,
  binding        text        NOT NULL,
  sub            uuid        REFERENCES users (sub) ON DELETE CASCADE,
  expires_at     timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);
