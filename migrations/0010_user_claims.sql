-- Claims of a user beyond the standard profile columns (department, employee_number, roles, ...),
-- set with `gatehouse users set-claim` / `users roles add`, released by identity resources and
-- copied into API access tokens (apis[].user_claims). One JSON object; `roles` is an array of
-- strings. Existing users start with none.
ALTER TABLE users ADD COLUMN claims jsonb NOT NULL DEFAULT '{}';
