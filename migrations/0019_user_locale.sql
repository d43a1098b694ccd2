-- The language a user reads (#18, Languages): mails are written in it (src/mail/, locales/).
--
-- Set where the user shows it themselves: registering, finishing a password reset or an
-- invitation from the mailed link, changing their address on /account, or by an admin
-- (`users invite --locale`). A language tag as Gatehouse supports it then (`de`, `fr`, …);
-- mail code uses it only while it is still supported, else the page's language or English.
-- Null for everyone stored before: their mails stay as they were (English, or the language
-- of the page that caused them).
ALTER TABLE users ADD COLUMN locale text CHECK (locale IS NULL OR (length(locale) BETWEEN 2 AND 35 AND locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$'));
