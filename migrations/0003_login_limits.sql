-- Failed sign-in counters and lockouts, per account and per client IP (src/throttling/login_throttle.ts).
-- The columns are exactly those rate-limiter-flexible's RateLimiterPostgres creates for itself
-- (`key`, `points`, `expire` in epoch milliseconds); creating the table here means no instance
-- runs DDL at start-up. `expire` is indexed for the library's periodic delete of expired rows.
CREATE TABLE login_limits (
  key    varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX login_limits_expire ON login_limits (expire);
