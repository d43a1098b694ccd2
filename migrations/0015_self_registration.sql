-- Self-service registration (config `self_service`, src/interactions/registration.ts).
--
-- A user who registered themselves while `email_verification` is on cannot sign in with the
-- password until the address is confirmed by the mailed link: `verification_pending` is true
-- from registration until the link is followed (which also sets email_verified). Users created
-- by an admin (`users add`, invitations) or an upstream are never pending, so nothing changes
-- for anyone stored before this migration.
ALTER TABLE users ADD COLUMN verification_pending boolean NOT NULL DEFAULT false;
