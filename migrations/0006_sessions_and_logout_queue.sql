-- Whose session or grant a row is, and (for sessions) where and when it started, so an admin or
-- the user can list and end them. Filled by the adapter from the payload and the request.
ALTER TABLE oidc_models
  ADD COLUMN account_id   text,
  ADD COLUMN client_info  jsonb,
  ADD COLUMN created_at   timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN updated_at   timestamptz NOT NULL DEFAULT now();
UPDATE oidc_models SET account_id = payload ->> 'accountId' WHERE model IN ('Session', 'Grant');
CREATE INDEX oidc_models_account ON oidc_models (account_id, model) WHERE account_id IS NOT NULL;

-- Back-channel logout notices waiting to be delivered. A notice is written before the first
-- attempt and deleted once the relying party acknowledged it, so a restart loses none; failed
-- ones wait until next_attempt_at (exponential backoff). An instance claims a due notice by
-- pushing next_attempt_at forward, so two instances never send the same one at once.
CREATE TABLE backchannel_logouts (
  id              bigserial   PRIMARY KEY,
  client_id       text        NOT NULL,
  sub             text        NOT NULL,
  sid             text,
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backchannel_logouts_due ON backchannel_logouts (next_attempt_at);
