-- The audit trail (src/audit/audit_log.ts): sign-ins, lockouts, consents, sign-outs, token
-- revocations and admin actions, one row each. Only identifiers are kept, never a password,
-- token, code or cookie. `account_id` has no foreign key: a deleted user's history stays (until
-- AUDIT_RETENTION_DAYS prunes it), and the deletion itself is one of its rows.
CREATE TABLE audit_events (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  event       text        NOT NULL,
  account_id  uuid,
  username    text,
  client_id   text,
  ip          text,
  user_agent  text,
  details     jsonb       NOT NULL DEFAULT '{}'
);
-- "Recent events of one account", newest first (the account page).
CREATE INDEX audit_events_account_recent ON audit_events (account_id, occurred_at DESC, id DESC) WHERE account_id IS NOT NULL;
-- Pruning rows older than the retention.
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
