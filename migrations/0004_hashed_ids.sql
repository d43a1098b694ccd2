-- Bearer values at rest: every artifact except grants (and clients, in their own table) is now
-- keyed by the SHA-256 (base64url, no padding) of its id, and its payload no longer repeats the
-- id: an interaction's resume URL keeps '{id}' in its place and loses its session's cookie value.
-- Existing rows are converted in place (every expression below sees the old id), so sessions,
-- tokens and codes issued before the upgrade keep working.
UPDATE oidc_models
   SET id = rtrim(translate(encode(sha256(convert_to(id, 'UTF8')), 'base64'), '+/', '-_'), '='),
       user_code = CASE WHEN user_code IS NULL THEN NULL
                        ELSE rtrim(translate(encode(sha256(convert_to(user_code, 'UTF8')), 'base64'), '+/', '-_'), '=') END,
       payload = CASE WHEN model = 'Interaction' AND payload ? 'returnTo'
                      THEN jsonb_set(payload - 'jti' #- '{session,cookie}', '{returnTo}', to_jsonb(replace(payload ->> 'returnTo', id, '{id}')))
                      ELSE payload - 'jti' #- '{session,cookie}' END
 WHERE model <> 'Grant';
