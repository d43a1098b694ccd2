import { describe, expect, it } from 'vitest';
import { mappedClaims, profileOf, usernameBase } from '../../../src/federation/upstream_profile.js';
import { gatehouseConfigSchema } from '../../../src/config/gatehouse_config.js';

// What an upstream says becomes a Gatehouse profile: only usable values, a username made of the
// characters Gatehouse usernames allow, and GitHub's numeric id as a string `sub`.

describe('profileOf', () => {
  it('needs a usable sub', () => {
    expect(profileOf({})).toBeUndefined();
    expect(profileOf({ sub: '' })).toBeUndefined();
    expect(profileOf({ sub: 'a\u0000b' })).toBeUndefined();
    expect(profileOf({ sub: '\ud800' })).toBeUndefined();
    expect(profileOf({ sub: 42 })).toMatchObject({ sub: '42' });
  });

  it('keeps an email only when it looks like one, and email_verified only when true', () => {
    expect(profileOf({ sub: 's', email: 'not an email', email_verified: true })).toMatchObject({ email: undefined, email_verified: true });
    expect(profileOf({ sub: 's', email: 'a@b.example', email_verified: 'yes' })).toMatchObject({ email: 'a@b.example', email_verified: false });
    expect(profileOf({ sub: 's', name: { not: 'a string' } })).toMatchObject({ name: undefined });
  });
});

describe('usernameBase', () => {
  const base = (claims: Record<string, unknown>) => usernameBase(profileOf({ sub: 's', ...claims })!);
  it('prefers preferred_username, then the email local part, then the name', () => {
    expect(base({ preferred_username: 'octocat', email: 'x@y.example', name: 'N' })).toBe('octocat');
    expect(base({ email: 'jane.doe@corp.example', name: 'N' })).toBe('jane.doe');
    expect(base({ name: 'José Álvarez' })).toBe('Jose.Alvarez');
  });

  it('reduces to allowed characters, starting with a letter or digit; "user" when nothing is left', () => {
    expect(base({ preferred_username: '--<script>alert(1)</script>' })).toBe('scriptalert1script');
    expect(base({ preferred_username: '日本語' })).toBe('user');
    expect(base({ preferred_username: 'a'.repeat(100) })).toHaveLength(40);
  });
});

describe('mappedClaims', () => {
  it('renames a GitHub-style userinfo answer through the claims map', () => {
    const config = gatehouseConfigSchema.parse({
      upstreams: [
        {
          id: 'github',
          type: 'oauth2',
          name: 'GitHub',
          client_id: 'c',
          authorization_endpoint: 'https://github.com/login/oauth/authorize',
          token_endpoint: 'https://github.com/login/oauth/access_token',
          userinfo_endpoint: 'https://api.github.com/user',
          claims: { sub: 'id', preferred_username: 'login', email: 'email', name: 'name' },
        },
      ],
    }).upstreams[0]!;
    if (config.type !== 'oauth2') throw new Error('expected an oauth2 upstream');
    const claims = mappedClaims(config, { id: 583231, login: 'octocat', email: null, name: 'The Octocat', site_admin: false });
    expect(profileOf(claims)).toEqual({
      sub: '583231',
      preferred_username: 'octocat',
      email: undefined,
      email_verified: false,
      name: 'The Octocat',
      given_name: undefined,
      family_name: undefined,
    });
  });
});
