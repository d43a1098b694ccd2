-- Which password hashes are of the NFKC-normalised password (src/accounts/passwords.ts). Hashes
-- stored before this migration cannot be told apart (normalisation came in without a mark), so
-- they are all marked false: their sign-in also tries the password as typed, when normalising
-- changes it, and re-hashes it into the marked form. Every hash written from now on is marked.
ALTER TABLE users ADD COLUMN password_normalized boolean NOT NULL DEFAULT false;

-- Secrets every instance on the database must share, created on first use by whichever instance
-- (or CLI command) needs one first (src/storage/server_secrets.ts). `throttle_keys` keys the HMAC of
-- the login_limits rows' keys, so the table never holds what someone typed.
CREATE TABLE server_secrets (
  name       text        PRIMARY KEY,
  secret     bytea       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
