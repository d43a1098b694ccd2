-- Invalidation of the per-process read caches (src/cache/, README "Caches").
--
-- Every instance keeps recently read tokens (with their grant, session and user) and clients in
-- memory, and drops an entry when the row behind it changes. These triggers announce each change
-- on the channel `gatehouse_cache` from inside the writing transaction: the notification is
-- delivered to every listening instance when, and only when, the write commits, whichever code
-- (or process, or `psql` session) made it. Payloads name what changed:
--   t:<model>:<storage key>  a token or code row was updated (consumed, re-saved) or deleted
--   g:<grant id>             a grant row changed or went (a token is checked against its grant)
--   s:<session uid>          a session changed or ended (tokens that expire with it)
--   a:<user sub>             a user changed or was deleted (userinfo claims, disabled)
--   c:<client id>            a client's row was added, changed or removed
--   k                        the signing or cookie keys changed
-- Inserts of tokens, grants and sessions announce nothing: no cache keeps an absent row.
-- Rows deleted after they expired (the sweep) announce nothing either: a cache never serves an
-- entry past its expiry, and a sweep of thousands of rows must not flood the channel.

CREATE FUNCTION gatehouse_cache_oidc_models() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.expires_at IS NOT NULL AND OLD.expires_at <= now() THEN
    RETURN NULL;
  END IF;
  IF OLD.model = 'Grant' THEN
    PERFORM pg_notify('gatehouse_cache', 'g:' || OLD.id);
  ELSIF OLD.model = 'Session' THEN
    IF OLD.uid IS NOT NULL THEN
      PERFORM pg_notify('gatehouse_cache', 's:' || OLD.uid);
    END IF;
  ELSIF OLD.model IN ('AccessToken', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials', 'DeviceCode', 'BackchannelAuthenticationRequest') THEN
    PERFORM pg_notify('gatehouse_cache', 't:' || OLD.model || ':' || OLD.id);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER oidc_models_cache_invalidation AFTER UPDATE OR DELETE ON oidc_models
  FOR EACH ROW EXECUTE FUNCTION gatehouse_cache_oidc_models();

CREATE FUNCTION gatehouse_cache_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_cache', 'a:' || OLD.sub::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER users_cache_invalidation AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION gatehouse_cache_users();

CREATE FUNCTION gatehouse_cache_clients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_cache', 'c:' || CASE WHEN TG_OP = 'INSERT' THEN NEW.client_id ELSE OLD.client_id END);
  RETURN NULL;
END
$$;

CREATE TRIGGER clients_cache_invalidation AFTER INSERT OR UPDATE OR DELETE ON clients
  FOR EACH ROW EXECUTE FUNCTION gatehouse_cache_clients();

CREATE FUNCTION gatehouse_cache_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gatehouse_cache', 'k');
  RETURN NULL;
END
$$;

CREATE TRIGGER keys_cache_invalidation AFTER INSERT OR UPDATE OR DELETE ON keys
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_cache_keys();
