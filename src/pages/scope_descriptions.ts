import type { IdentityResourceConfig } from '../config/gatehouse_config.js';

// The consent screen's plain words for each standard scope and claim. A scope's words cover
// every claim it releases (CLAIMS_BY_SCOPE in config/claim_names.ts). An identity resource from
// the config file is described by its display name and, in words, the claims it releases.
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  profile: 'See your name and username (and when they last changed)',
  email: 'See your email address (and whether it is verified)',
  offline_access: 'Keep access while you are not using it (until you revoke it)',
};

const CLAIM_DESCRIPTIONS: Record<string, string> = {
  name: 'your full name',
  given_name: 'your first name',
  family_name: 'your last name',
  preferred_username: 'your username',
  email: 'your email address',
  email_verified: 'whether your email address is verified',
  updated_at: 'when your profile last changed',
};

/** A claim in words: a standard one's description, else its name read as words (`employee_number`: "your employee number"). */
export function describeClaim(claim: string): string {
  // Own keys only: a claim named `constructor` is not Object.prototype's.
  if (Object.hasOwn(CLAIM_DESCRIPTIONS, claim)) return CLAIM_DESCRIPTIONS[claim] as string;
  return `your ${claim.replace(/[_.:-]+/g, ' ')}`;
}

/** The words for `scope`: a built-in's, an identity resource's, or undefined (API scopes are listed by API). */
export function describeScope(scope: string, identityResources: readonly IdentityResourceConfig[]): string | undefined {
  if (Object.hasOwn(SCOPE_DESCRIPTIONS, scope)) return SCOPE_DESCRIPTIONS[scope];
  const resource = identityResources.find((r) => r.name === scope);
  return resource ? `${resource.display_name}: see ${resource.claims.map(describeClaim).join(', ')}` : undefined;
}

/**
 * What an API will learn about the user from its access tokens (its `user_claims`), in a
 * sentence: "ToDo API will receive your roles and department". Undefined when it learns nothing.
 */
export function describeApiUserClaims(apiName: string, claims: readonly string[]): string | undefined {
  if (claims.length === 0) return undefined;
  let words = claims.map(describeClaim);
  let lead = '';
  if (words.every((w) => w.startsWith('your '))) {
    lead = 'your ';
    words = words.map((w) => w.slice('your '.length));
  }
  const list = words.length === 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.slice(-1).join('')}`;
  return `${apiName} will receive ${lead}${list}`;
}
