// The clients, APIs and users both servers are measured with. Gatehouse reads this as its config
// file; the baseline builds its static clients from the same entries, so both answer the same
// requests with the same client metadata, resource servers and signing algorithms.

export const RP = 'http://127.0.0.1:9';

export const SECRETS = {
  service: 'bench-service-secret-0123456789abcdef0123',
  introspector: 'bench-introspector-secret-0123456789abcd',
  firstParty: 'bench-first-party-secret-0123456789abcde',
};

export const APIS = {
  rs256: 'https://rs256.bench.test',
  es256: 'https://es256.bench.test',
  opaque: 'https://opaque.bench.test',
};

export const FIRST_PARTY_REDIRECT = `${RP}/fp/callback`;

export const benchConfig = {
  clients: [
    {
      client_id: 'service',
      client_secret: SECRETS.service,
      client_name: 'Bench service',
      grant_types: ['client_credentials'],
      scope: 'rs:read es:read notes:read',
    },
    {
      client_id: 'introspector',
      client_secret: SECRETS.introspector,
      client_name: 'Bench resource server (introspects)',
      grant_types: ['client_credentials'],
      scope: 'notes:read',
    },
    {
      client_id: 'first-party',
      client_secret: SECRETS.firstParty,
      client_name: 'Bench first-party app',
      redirect_uris: [FIRST_PARTY_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile email offline_access rs:read',
      skip_consent: true,
    },
  ],
  apis: [
    { identifier: APIS.rs256, name: 'RS256 API', scopes: ['rs:read'], access_token_format: 'jwt', access_token_ttl: 3600, signing_alg: 'RS256' },
    { identifier: APIS.es256, name: 'ES256 API', scopes: ['es:read'], access_token_format: 'jwt', access_token_ttl: 3600, signing_alg: 'ES256' },
    { identifier: APIS.opaque, name: 'Opaque API', scopes: ['notes:read'], access_token_format: 'opaque', access_token_ttl: 3600 },
  ],
};

export const benchUser = (i) => ({
  username: `bench-user-${i}`,
  email: `bench-user-${i}@example.test`,
  name: `Bench User ${i}`,
  given_name: 'Bench',
  family_name: `User ${i}`,
  password: `correct horse battery staple ${i}`,
});
