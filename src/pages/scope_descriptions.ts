// The consent screen's plain words for each standard scope and claim. A scope's words cover
// every claim it releases (CLAIMS_BY_SCOPE in accounts/scope_claims.ts).
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  profile: 'See your name and username (and when they last changed)',
  email: 'See your email address (and whether it is verified)',
  offline_access: 'Keep access while you are not using it (until you revoke it)',
};

export const CLAIM_DESCRIPTIONS: Record<string, string> = {
  name: 'your full name',
  given_name: 'your first name',
  family_name: 'your last name',
  preferred_username: 'your username',
  email: 'your email address',
  email_verified: 'whether your email address is verified',
  updated_at: 'when your profile last changed',
};

/** A claim in the consent screen's words: "your roles", "your employee number". */
function describeClaim(claim: string): string {
  // Own keys only: a claim named `constructor` is not Object.prototype's.
  if (Object.hasOwn(CLAIM_DESCRIPTIONS, claim)) return CLAIM_DESCRIPTIONS[claim] as string;
  return claim === 'roles' ? 'your roles' : `your ${claim.replace(/[_.-]+/g, ' ')}`;
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
