-- Zero-downtime key rotation: a key is published first, signs from `activates_at` on, and is
-- retired when a newer key of its kind (and alg) activates. The state is derived from these
-- times (see src/keys/key_states.ts), so every instance reaches the same answer on its own.
ALTER TABLE keys ADD COLUMN activates_at timestamptz;
-- Until now a rotation retired the old keys at once: the newest key of each kind is the active one.
UPDATE keys SET activates_at = created_at;
ALTER TABLE keys ALTER COLUMN activates_at SET NOT NULL;
ALTER TABLE keys ALTER COLUMN activates_at SET DEFAULT now();
ALTER TABLE keys DROP COLUMN state;
ALTER TABLE keys DROP COLUMN retired_at;
DROP INDEX IF EXISTS keys_kind_state;
CREATE INDEX keys_kind_activates_at ON keys (kind, alg, activates_at);
