-- Mail waiting to be sent. A message is written before the first attempt and marked sent once the
-- mail server accepted it, so a mail server outage or a restart loses none; failed ones wait until
-- next_attempt_at (exponential backoff). An instance claims a due message by pushing
-- next_attempt_at forward (FOR UPDATE SKIP LOCKED), so two instances never send the same one.
-- The bodies are rendered when queued: a template change never alters a message in the queue.
CREATE TABLE mail_outbox (
  id              bigserial   PRIMARY KEY,
  template        text        NOT NULL,
  recipient       text        NOT NULL,
  subject         text        NOT NULL,
  text_body       text        NOT NULL,
  html_body       text,
  sub             uuid        REFERENCES users (sub) ON DELETE CASCADE,
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Single-use links sent by mail (password reset, invitation, e-mail verification, ...). Only the
-- SHA-256 of the token is stored. A newer token of the same purpose and user supersedes the older
-- ones (they are deleted when it is created); a used one keeps used_at until it is swept.
CREATE TABLE link_tokens (
  token_hash  bytea       PRIMARY KEY,
  purpose     text        NOT NULL,
  sub         uuid        NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
  -- what the link is for beyond the user, e.g. the new address of an e-mail change
  data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_tokens_owner ON link_tokens (sub, purpose);
CREATE INDEX link_tokens_expiry ON link_tokens (expires_at);
