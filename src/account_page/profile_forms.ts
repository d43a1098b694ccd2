import type { User, UsersRepo } from '../accounts/users_repo.js';
import { UserError } from '../accounts/users_repo.js';
import { emailSchema } from '../accounts/user_schema.js';
import type { SelfServiceMail } from '../accounts/self_service_mail.js';
import { hasNul } from '../core/nul_characters.js';
import type { AuditEvent, AuditLog } from '../audit/audit_log.js';
import type { Actor } from './account_actions.js';
import type { MailThrottle } from '../throttling/mail_throttle.js';
import { pageLocale, t } from '../i18n/page_language.js';

// The profile section of /account: the user edits their own name claims (name, given_name,
// family_name: the standard profile claims the users table has), and asks for a new e-mail
// address. The address does not change on asking: a single-use link (24 h) goes to the new
// address and a notice to the old one; only following the link changes it (and marks it
// verified). An address another account has is not said: the answer is the same, and no link
// is sent. Every step is audited (profile.updated, email.change_requested, email.changed).

export interface ProfileFormsDeps {
  users: Pick<UsersRepo, 'updateProfile' | 'findByEmail' | 'changeEmail' | 'findBySub' | 'setLocale'>;
  audit: Pick<AuditLog, 'record'>;
  selfServiceMail: Pick<SelfServiceMail, 'sendEmailChange' | 'consumeLink'>;
  registrationLimit: (ip: string | undefined) => Promise<number | undefined>;
  mailThrottle: Pick<MailThrottle, 'consume'>;
}

const NAME_FIELDS = [
  { field: 'name', max: 200 },
  { field: 'given_name', max: 100 },
  { field: 'family_name', max: 100 },
] as const;

type NameField = (typeof NAME_FIELDS)[number]['field'];

export type ProfileUpdate = { ok: true } | { ok: false; errors: Record<string, string> };
export type EmailChangeRequest = { ok: true } | { ok: false; status: 400 | 429; message: string; retryAfterSeconds?: number };

export function createProfileForms(deps: ProfileFormsDeps) {
  return {
    async update(user: User, actor: Actor, body: Record<string, unknown>): Promise<ProfileUpdate> {
      const values = {} as Record<NameField, string | null>;
      const errors: Record<string, string> = {};
      for (const { field, max } of NAME_FIELDS) {
        const raw = body[field];
        const value = typeof raw === 'string' ? raw.trim() : '';
        if (hasNul(value)) errors[field] = t('profile_forms.error.nul');
        // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points, as a person counts
        else if ([...value].length > max) errors[field] = t('profile_forms.error.too_long', { max });
        values[field] = value === '' ? null : value;
      }
      if (Object.keys(errors).length) return { ok: false, errors };
      const changed = NAME_FIELDS.map((f) => f.field).filter((f) => (user[f] ?? null) !== values[f]);
      if (changed.length === 0) return { ok: true };
      await deps.users.updateProfile(user.sub, values);
      await deps.audit.record({ event: 'profile.updated', ...actor, username: user.username, details: { fields: changed } });
      return { ok: true };
    },

    async requestEmailChange(user: User, actor: Actor, raw: unknown): Promise<EmailChangeRequest> {
      const email = typeof raw === 'string' ? raw.trim().slice(0, 300) : '';
      if (hasNul(email) || !emailSchema.safeParse(email).success) return { ok: false, status: 400, message: t('register.error.email') };
      if (user.email && user.email.toLowerCase() === email.toLowerCase()) return { ok: false, status: 400, message: t('profile_forms.error.same_email') };
      const wait = await deps.registrationLimit(actor.ip);
      if (wait !== undefined) return { ok: false, status: 429, message: t('profile_forms.error.throttled'), retryAfterSeconds: wait };
      // Per new address too: one account cannot flood an address with links.
      const perAddress = await deps.mailThrottle.consume('change_email', { login: email.toLowerCase() }, undefined);
      if (!perAddress.allowed)
        return {
          ok: false,
          status: 429,
          message: t('profile_forms.error.address_throttled'),
          retryAfterSeconds: perAddress.retryAfterSeconds,
        };
      // Signed in and asking for mail: the language of this page is the one the user reads.
      const locale = pageLocale();
      await deps.users.setLocale(user.sub, locale);
      const other = await deps.users.findByEmail(email);
      // Another account's address: the same answer, nothing sent (audited for the operator).
      if (!other) await deps.selfServiceMail.sendEmailChange({ ...user, locale }, email);
      await deps.audit.record({
        event: 'email.change_requested',
        ...actor,
        username: user.username,
        details: { domain: email.slice(email.lastIndexOf('@') + 1).toLowerCase(), ...(other ? { refused: 'address_taken' } : {}) },
      });
      return { ok: true };
    },

    /** The mailed link followed: the new address, or why not. */
    async confirmEmailChange(token: string, origin: Pick<AuditEvent, 'ip' | 'userAgent'>): Promise<User | 'expired' | 'taken'> {
      const link = await deps.selfServiceMail.consumeLink('change_email', token);
      if (!link) return 'expired';
      const before = await deps.users.findBySub(link.sub);
      if (!before || before.disabled) return 'expired';
      try {
        const user = await deps.users.changeEmail(link.sub, link.email);
        if (!user) return 'expired';
        await deps.audit.record({ event: 'email.changed', ...origin, accountId: user.sub, username: user.username, details: { verified: true } });
        return user;
      } catch (error) {
        if (error instanceof UserError) return 'taken';
        throw error;
      }
    },
  };
}
