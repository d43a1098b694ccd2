// The account page (/account) signs its user in the way every application does: through the
// authorization endpoint, as this built-in client (Keycloak's account-console pattern). So the
// one sign-in page, its throttle, its audit events and the session cookie are the only way in,
// and nothing about /account bypasses what an administrator sees of sign-ins. The client is not
// in the config file: it is synced with the file's clients, so a reload never removes it, and
// its id is reserved there.

export const ACCOUNT_CLIENT_ID = 'gatehouse-account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';
