import type { Db } from '../db/db.js';
import { expectRow } from '../db/expect_row.js';
import { hasNul } from '../core/nul_characters.js';
import { isUuid } from '../core/uuid.js';
import { GatehouseError } from '../core/errors.js';
import { hashPassword } from './passwords.js';
import { newUserSchema, type NewUser } from './user_schema.js';
import { MAX_CLAIMS_BYTES, ROLES_CLAIM } from './user_claims.js';
import { announcingUserWrites } from './announced_user_writes.js';

export interface User {
  sub: string;
  username: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  /** claims beyond the standard columns (migration 0010): any JSON values, `roles` an array of strings */
  claims: Record<string, unknown>;
  password_hash: string | null;
  /** whether password_hash is of the normalised password (false: it may predate normalisation) */
  password_normalized: boolean;
  disabled: boolean;
  /** self-registered, the address not yet confirmed: no password sign-in (migration 0015) */
  verification_pending?: boolean;
  /** the language the user reads, for mails (migration 0019); null: not known */
  locale?: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A user made by a first sign-in through an upstream (federation derives the fields). */
export interface FederatedProfile {
  usernameBase: string;
  email?: string | undefined;
  email_verified: boolean;
  name?: string | undefined;
  given_name?: string | undefined;
  family_name?: string | undefined;
}

export class UserError extends GatehouseError {
  constructor(message: string) {
    super('ERR_USER_EXISTS', message);
  }
}

const COLUMNS =
  'sub, username, email, email_verified, name, given_name, family_name, claims, password_hash, password_normalized, disabled, verification_pending, locale, created_at, updated_at';

/** What a change to a user's claims did: no such user, refused as too large, or the user after it. */
export type ClaimsChange = { found: false } | { found: true; tooLarge: true } | { found: true; tooLarge: false; user: User };

// The user's roles as a jsonb array whatever `claims` holds (an array when set through this repo).
const ROLES_SQL = `CASE WHEN jsonb_typeof(claims->'${ROLES_CLAIM}') = 'array' THEN claims->'${ROLES_CLAIM}' ELSE '[]'::jsonb END`;

/** `claims` with roles `roles_sql` (a jsonb array expression): the key removed when it is empty. */
const withRolesSql = (rolesSql: string) =>
  `CASE WHEN jsonb_array_length(${rolesSql}) = 0 THEN claims - '${ROLES_CLAIM}' ELSE claims || jsonb_build_object('${ROLES_CLAIM}', ${rolesSql}) END`;

function uniqueViolation(error: unknown): string | undefined {
  const e = error as { code?: string; constraint?: string };
  if (e.code !== '23505') return undefined;
  return e.constraint?.includes('email') ? 'email' : 'username';
}

export function createUsersRepo(database: Db) {
  // Its updates and deletes reach this process's caches at once (announced_user_writes.ts).
  const db = announcingUserWrites(database);
  /**
   * The account a login names, and the login's canonical form: Postgres's lower() of it, the
   * very function the lookup compares with (JavaScript's toLowerCase() folds other characters
   * differently: 'İ'), so an unknown login's throttle key and its lookup cannot disagree.
   */
  async function resolveLogin(login: string): Promise<{ user: User | undefined; canonical: string }> {
    // As typed on the login form: a NUL (which Postgres cannot compare) matches no user.
    if (hasNul(login)) return { user: undefined, canonical: login.toLowerCase() };
    const { rows } = await db.query<User & { canonical: string; found: boolean }>({
      name: 'users_resolve_login',
      text: `SELECT lower($1) AS canonical, u.sub IS NOT NULL AS found, u.* FROM (SELECT 1) AS one
               LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($1)
                                  ORDER BY (lower(username) = lower($1)) DESC LIMIT 1) AS u ON true`,
      values: [login],
    });
    const { canonical, found, ...user } = expectRow(rows, 'users_resolve_login');
    return { user: found ? user : undefined, canonical };
  }

  /**
   * Replaces a user's claims with `nextSql` (an expression of the row's `claims`, with $2 on)
   * in one statement: the row is locked and the expression evaluated on its latest version, so
   * two changes at once both land. Refused when the result outgrows MAX_CLAIMS_BYTES.
   */
  async function changeClaims(username: string, nextSql: string, values: unknown[]): Promise<ClaimsChange> {
    const { rows } = await db.query<User & { fits: boolean }>(
      `WITH target AS (
         SELECT sub, ${nextSql} AS next FROM users WHERE lower(username) = lower($1) FOR UPDATE
       ), changed AS (
         UPDATE users u SET claims = t.next, updated_at = now() FROM target t
          WHERE u.sub = t.sub AND octet_length(t.next::text) <= ${MAX_CLAIMS_BYTES}
         RETURNING ${COLUMNS.split(', ')
           .map((c) => `u.${c}`)
           .join(', ')}
       )
       SELECT changed.sub IS NOT NULL AS fits, changed.* FROM target LEFT JOIN changed ON true`,
      [username, ...values],
    );
    const row = rows[0];
    if (!row) return { found: false };
    const { fits, ...user } = row;
    return fits ? { found: true, tooLarge: false, user } : { found: true, tooLarge: true };
  }

  return {
    async create(input: NewUser): Promise<User> {
      const user = newUserSchema.parse(input);
      const hash = await hashPassword(user.password);
      try {
        const { rows } = await db.query<User>(
          `INSERT INTO users (username, email, email_verified, name, given_name, family_name, password_hash, password_normalized, password_changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, true, now()) RETURNING ${COLUMNS}`,
          [user.username, user.email ?? null, user.email_verified, user.name ?? null, user.given_name ?? null, user.family_name ?? null, hash],
        );
        return expectRow(rows, 'INSERT INTO users');
      } catch (error) {
        const field = uniqueViolation(error);
        if (field) throw new UserError(`a user with that ${field} already exists`);
        throw error;
      }
    },

    /**
     * A user who signs in through an upstream identity provider only: no password (password
     * sign-in refuses them like a wrong password). The username is made from `usernameBase`
     * (federation derives it) and a number when taken.
     */
    async createWithoutPassword(profile: FederatedProfile): Promise<User> {
      for (let attempt = 0; attempt < 20; attempt++) {
        const suffix = attempt === 0 ? '' : attempt < 10 ? `-${attempt + 1}` : `-${Math.random().toString(36).slice(2, 8)}`;
        const username = `${profile.usernameBase.slice(0, 64 - suffix.length)}${suffix}`;
        try {
          const { rows } = await db.query<User>(
            `INSERT INTO users (username, email, email_verified, name, given_name, family_name, password_hash)
             VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING ${COLUMNS}`,
            [username, profile.email ?? null, profile.email_verified, profile.name ?? null, profile.given_name ?? null, profile.family_name ?? null],
          );
          return expectRow(rows, 'INSERT INTO users');
        } catch (error) {
          const field = uniqueViolation(error);
          if (field === 'username') continue;
          if (field) throw new UserError(`a user with that ${field} already exists`);
          throw error;
        }
      }
      throw new UserError('could not find a free username');
    },

    /**
     * A self-registered user (registration.ts): the policy already checked by the caller.
     * `pending` (email verification on): no password sign-in until the address is confirmed.
     */
    async register(input: { username: string; email: string; name: string; password: string; locale?: string | undefined }, pending: boolean): Promise<User> {
      const hash = await hashPassword(input.password);
      try {
        const { rows } = await db.query<User>(
          `INSERT INTO users (username, email, email_verified, name, password_hash, password_normalized, password_changed_at, verification_pending, locale)
           VALUES ($1, $2, false, $3, $4, true, now(), $5, $6) RETURNING ${COLUMNS}`,
          [input.username, input.email, input.name, hash, pending, input.locale ?? null],
        );
        return expectRow(rows, 'INSERT INTO users');
      } catch (error) {
        const field = uniqueViolation(error);
        if (field) throw new UserError(`a user with that ${field} already exists`);
        throw error;
      }
    },

    /** The language the user reads (a supported locale): their mails are written in it. */
    async setLocale(sub: string, locale: string): Promise<void> {
      await db.query('UPDATE users SET locale = $2 WHERE sub = $1 AND locale IS DISTINCT FROM $2', [sub, locale]);
    },

    /** The address `email` is confirmed (a followed link): verified, and no longer pending. Undefined when it changed meanwhile. */
    async confirmEmail(sub: string, email: string): Promise<User | undefined> {
      const { rows } = await db.query<User>(
        `UPDATE users SET email_verified = true, verification_pending = false, updated_at = now()
          WHERE sub = $1 AND lower(email) = lower($2) RETURNING ${COLUMNS}`,
        [sub, email],
      );
      return rows[0];
    },

    /** The user's own profile edit (/account): the standard name claims; null clears one. */
    async updateProfile(sub: string, profile: { name: string | null; given_name: string | null; family_name: string | null }): Promise<User | undefined> {
      const { rows } = await db.query<User>(
        `UPDATE users SET name = $2, given_name = $3, family_name = $4, updated_at = now() WHERE sub = $1 RETURNING ${COLUMNS}`,
        [sub, profile.name, profile.given_name, profile.family_name],
      );
      return rows[0];
    },

    /** A confirmed e-mail change: the new address, verified. Throws UserError when another account took it meanwhile. */
    async changeEmail(sub: string, email: string): Promise<User | undefined> {
      try {
        const { rows } = await db.query<User>(
          `UPDATE users SET email = $2, email_verified = true, verification_pending = false, updated_at = now() WHERE sub = $1 RETURNING ${COLUMNS}`,
          [sub, email],
        );
        return rows[0];
      } catch (error) {
        if (uniqueViolation(error)) throw new UserError('a user with that email already exists');
        throw error;
      }
    },

    resolveLogin,

    /** By username or email, case-insensitively (the login form's `login` field). */
    async findByLogin(login: string): Promise<User | undefined> {
      return (await resolveLogin(login)).user;
    },

    async findBySub(sub: string): Promise<User | undefined> {
      if (!isUuid(sub)) return undefined;
      const { rows } = await db.query<User>({ name: 'users_find_by_sub', text: `SELECT ${COLUMNS} FROM users WHERE sub = $1`, values: [sub] });
      return rows[0];
    },

    /** By email only, case-insensitively (emails are unique that way). */
    async findByEmail(email: string): Promise<User | undefined> {
      if (hasNul(email)) return undefined;
      const { rows } = await db.query<User>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]);
      return rows[0];
    },

    async findByUsername(username: string): Promise<User | undefined> {
      const { rows } = await db.query<User>(`SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
      return rows[0];
    },

    async list(): Promise<User[]> {
      const { rows } = await db.query<User>(`SELECT ${COLUMNS} FROM users ORDER BY lower(username)`);
      return rows;
    },

    async setDisabled(username: string, disabled: boolean): Promise<User | undefined> {
      const { rows } = await db.query<User>(`UPDATE users SET disabled = $2, updated_at = now() WHERE lower(username) = lower($1) RETURNING ${COLUMNS}`, [
        username,
        disabled,
      ]);
      return rows[0];
    },

    /**
     * `gatehouse users invite`: a user without a password (password sign-in refuses them like a
     * wrong password) until they follow the mailed invitation link.
     */
    async createInvited(input: { username: string; email: string; name?: string | undefined }): Promise<User> {
      const user = newUserSchema.omit({ password: true }).parse(input);
      try {
        const { rows } = await db.query<User>(
          `INSERT INTO users (username, email, email_verified, name, password_hash) VALUES ($1, $2, false, $3, NULL) RETURNING ${COLUMNS}`,
          [user.username, user.email ?? null, user.name ?? null],
        );
        return expectRow(rows, 'INSERT INTO users');
      } catch (error) {
        const field = uniqueViolation(error);
        if (field) throw new UserError(`a user with that ${field} already exists`);
        throw error;
      }
    },

    /** The user proved they read `email` (a link mailed there): verified, if it is still their address. */
    async markEmailVerified(sub: string, email: string): Promise<boolean> {
      const { rowCount } = await db.query(`UPDATE users SET email_verified = true, updated_at = now() WHERE sub = $1 AND email = $2 AND NOT email_verified`, [
        sub,
        email,
      ]);
      return rowCount > 0;
    },

    async setPasswordHash(sub: string, hash: string): Promise<void> {
      // A new password kills the links that would set one (migrations/0014, storage/link_tokens.ts).
      await db.query(
        `WITH dead_links AS (DELETE FROM link_tokens WHERE sub = $1 AND purpose IN ('password_reset', 'invitation'))
         UPDATE users SET password_hash = $2, password_normalized = true, password_changed_at = now(), updated_at = now() WHERE sub = $1`,
        [sub, hash],
      );
    },

    /**
     * After a sign-in whose stored hash is outdated (passwords.ts): the same password, hashed
     * with today's parameters. Not a password change, so neither password_changed_at nor the
     * profile's updated_at moves; and only if the hash is still the one checked, so a
     * `set-password` made meanwhile is never overwritten. Returns whether it was replaced.
     */
    async upgradePasswordHash(user: Pick<User, 'sub' | 'password_hash'>, password: string): Promise<boolean> {
      if (!user.password_hash) return false;
      const { rowCount } = await db.query(`UPDATE users SET password_hash = $3, password_normalized = true WHERE sub = $1 AND password_hash = $2`, [
        user.sub,
        user.password_hash,
        await hashPassword(password),
      ]);
      return rowCount === 1;
    },

    /** Sets claim `name` (validated by the caller, user_claims.ts) to `value`. */
    async setClaim(username: string, name: string, value: unknown): Promise<ClaimsChange> {
      return changeClaims(username, `claims || jsonb_build_object($2::text, $3::jsonb)`, [name, JSON.stringify(value)]);
    },

    /** Removes claim `name`; `removed` says whether the user had it. */
    async unsetClaim(username: string, name: string): Promise<{ user: User | undefined; removed: boolean }> {
      const { rows } = await db.query<User & { had: boolean }>(
        `WITH target AS (SELECT sub, claims ? $2 AS had FROM users WHERE lower(username) = lower($1) FOR UPDATE)
         UPDATE users u SET claims = u.claims - $2::text, updated_at = CASE WHEN t.had THEN now() ELSE u.updated_at END
           FROM target t WHERE u.sub = t.sub
         RETURNING t.had, ${COLUMNS.split(', ')
           .map((c) => `u.${c}`)
           .join(', ')}`,
        [username, name],
      );
      const row = rows[0];
      if (!row) return { user: undefined, removed: false };
      const { had, ...user } = row;
      return { user, removed: had };
    },

    /** Adds `roles` (validated by the caller) to the user's `roles` claim, after those held, once each. */
    async addRoles(username: string, roles: readonly string[]): Promise<ClaimsChange> {
      const merged = `(SELECT coalesce(jsonb_agg(r.role ORDER BY r.first), '[]'::jsonb) FROM (
          SELECT role, min(ord) AS first FROM (
            SELECT value AS role, ord FROM jsonb_array_elements_text(${ROLES_SQL}) WITH ORDINALITY AS held(value, ord)
            UNION ALL SELECT value, 1000000 + ord FROM unnest($2::text[]) WITH ORDINALITY AS added(value, ord)
          ) AS every GROUP BY role) AS r)`;
      return changeClaims(username, withRolesSql(merged), [roles]);
    },

    /** Removes `roles` from the user's `roles` claim (the claim goes when no role is left). */
    async removeRoles(username: string, roles: readonly string[]): Promise<ClaimsChange> {
      const kept = `(SELECT coalesce(jsonb_agg(value ORDER BY ord), '[]'::jsonb)
          FROM jsonb_array_elements_text(${ROLES_SQL}) WITH ORDINALITY AS held(value, ord) WHERE value <> ALL($2::text[]))`;
      return changeClaims(username, withRolesSql(kept), [roles]);
    },

    async delete(username: string): Promise<User | undefined> {
      const { rows } = await db.query<User>(`DELETE FROM users WHERE lower(username) = lower($1) RETURNING ${COLUMNS}`, [username]);
      return rows[0];
    },
  };
}

export type UsersRepo = ReturnType<typeof createUsersRepo>;
