import type { IdentityResourceConfig } from '../config/gatehouse_config.js';
import { translatorFor } from '../i18n/catalogues.js';
import { t } from '../i18n/page_language.js';

// The consent screen's plain words for each standard scope and claim, in the page's language
// (locales/*.json `scopes.*`, `claims.*`). A scope's words cover every claim it releases
// (CLAIMS_BY_SCOPE in config/claim_names.ts). An identity resource from the config file is
// described by its display name and, in words, the claims it releases.

const BUILT_IN_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const DESCRIBED_CLAIMS = new Set(['name', 'given_name', 'family_name', 'preferred_username', 'email', 'email_verified', 'updated_at']);

/** The built-in scopes' words in English (what the catalogue's `scopes.<scope>` says). */
export const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.fromEntries(
  BUILT_IN_SCOPES.map((scope) => [scope, translatorFor('en').t(`scopes.${scope}`)]),
);

/** A claim in words: a standard one's description, else its name read as words (`employee_number`: "your employee number"). */
export function describeClaim(claim: string): string {
  if (DESCRIBED_CLAIMS.has(claim)) return t(`claims.${claim}`);
  return t('claims.other', { name: claim.replace(/[_.:-]+/g, ' ') });
}

/** "a", "a and b", "a, b and c", in the page's language. */
function listOf(words: readonly string[]): string {
  if (words.length < 2) return words.join('');
  return t('common.list', { items: words.slice(0, -1).join(', '), last: words[words.length - 1] as string });
}

/** The words for `scope`: a built-in's, an identity resource's, or undefined (API scopes are listed by API). */
export function describeScope(scope: string, identityResources: readonly IdentityResourceConfig[]): string | undefined {
  if (BUILT_IN_SCOPES.includes(scope)) return t(`scopes.${scope}`);
  const resource = identityResources.find((r) => r.name === scope);
  return resource ? t('scopes.identity_resource', { name: resource.display_name, claims: resource.claims.map(describeClaim).join(', ') }) : undefined;
}

/**
 * What an API will learn about the user from its access tokens (its `user_claims`), in a
 * sentence: "ToDo API will receive your roles and department". Undefined when it learns nothing.
 */
export function describeApiUserClaims(apiName: string, claims: readonly string[]): string | undefined {
  if (claims.length === 0) return undefined;
  let words = claims.map(describeClaim);
  // "your roles and your department" reads better as "your roles and department": a first word
  // every description shares (a possessive) is said once.
  let lead = '';
  const first = words[0]?.split(' ')[0] ?? '';
  if (words.length > 1 && first && words.every((w) => w.startsWith(`${first} `))) {
    lead = `${first} `;
    words = words.map((w) => w.slice(lead.length));
  }
  return t('consent.api_receives', { api: apiName, claims: `${lead}${listOf(words)}` });
}
