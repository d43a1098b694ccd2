import { z } from 'zod';

// Which names a user claim may have. Protocol claims are the token's own (who issued it, to whom,
// until when, for which client and scopes, how the user signed in): a user claim of that name
// would overwrite them in an introspection answer (oidc-provider spreads the extra claims before
// its own, and `sub` before them) or be taken for them by an API reading the token.

const PROTOCOL_CLAIM_NAMES: ReadonlySet<string> = new Set([
  // RFC 7519 registered claims
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  // RFC 9068 / RFC 8693 / RFC 8705 / RFC 9396
  'client_id',
  'scope',
  'cnf',
  'act',
  'may_act',
  'authorization_details',
  // RFC 7662 introspection members
  'active',
  'token_type',
  'username',
  // OpenID Connect ID token and session claims
  'azp',
  'auth_time',
  'acr',
  'amr',
  'sid',
  'nonce',
  'at_hash',
  'c_hash',
  's_hash',
  'events',
  'typ',
]);

/** A letter first, then letters, digits and `_ . : -`: safe in JSON, a URL and an HTML page. */
const CLAIM_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

export const claimNameSchema = z
  .string()
  .regex(CLAIM_NAME_PATTERN, 'must be a claim name: a letter, then up to 63 letters, digits, "_", ".", ":" or "-"')
  .refine((name) => !PROTOCOL_CLAIM_NAMES.has(name), 'is a protocol claim, set by Gatehouse itself, not a user claim');
