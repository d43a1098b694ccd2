import type { UpstreamConfig } from '../config/gatehouse_config.js';
import { hasUnstorableText } from '../core/nul_characters.js';

// What an upstream says about the person, in Gatehouse's terms: the OpenID Connect claims of
// its ID token and userinfo, or a plain OAuth 2.0 userinfo answer read through the upstream's
// `claims` map (GitHub's numeric `id` becomes the string `sub`).

export interface UpstreamProfile {
  sub: string;
  preferred_username?: string | undefined;
  email?: string | undefined;
  email_verified: boolean;
  name?: string | undefined;
  given_name?: string | undefined;
  family_name?: string | undefined;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function text(value: unknown, max: number): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  // Postgres refuses NUL; lone surrogates make no username or name anyone could type.
  if (!trimmed || trimmed.length > max || hasUnstorableText(trimmed)) return undefined;
  return trimmed;
}

/** The profile in `claims` (already named as OIDC names them); undefined without a usable `sub`. */
export function profileOf(claims: Record<string, unknown>): UpstreamProfile | undefined {
  const sub = text(claims.sub, 255);
  if (!sub) return undefined;
  const email = text(claims.email, 254);
  const verified = claims.email_verified;
  return {
    sub,
    preferred_username: text(claims.preferred_username, 200),
    email: email && EMAIL.test(email) ? email : undefined,
    email_verified: verified === true || verified === 'true',
    name: text(claims.name, 200),
    given_name: text(claims.given_name, 100),
    family_name: text(claims.family_name, 100),
  };
}

/** An OAuth 2.0 upstream's userinfo answer, renamed through its `claims` map. */
export function mappedClaims(config: Extract<UpstreamConfig, { type: 'oauth2' }>, userinfo: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config.claims).map(([claim, field]) => [claim, userinfo[field]]));
}

/**
 * A username to start from: the upstream's preferred username, else the email's local part,
 * else the name, reduced to what Gatehouse usernames allow (letters, digits and . _ @ + -,
 * starting with a letter or digit); `user` when nothing is left.
 */
export function usernameBase(profile: UpstreamProfile): string {
  for (const candidate of [profile.preferred_username, profile.email?.split('@')[0], profile.name]) {
    const cleaned = (candidate ?? '')
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/\s+/g, '.')
      .replace(/[^A-Za-z0-9._@+-]/g, '')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 40);
    if (cleaned) return cleaned;
  }
  return 'user';
}
