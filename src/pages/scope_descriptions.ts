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
