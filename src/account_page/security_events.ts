import type { AuditRow } from '../audit/audit_log.js';
import { t } from '../i18n/page_language.js';

// The account's audit trail (audit_log.ts) in the words a person uses. Only what the row says
// about the event is shown: its kind, the application by name, when and from which address.
// Audit rows never hold secrets, and the details shown are picked, never dumped.

export interface SecurityEvent {
  at: Date;
  text: string;
  ip: string | undefined;
}

type Describe = (row: AuditRow, app: string | undefined) => string;

const detail = (row: AuditRow, key: string): unknown => row.details[key];
const str = (row: AuditRow, key: string) => String(detail(row, key));
const countOf = (row: AuditRow, key: string) => (typeof detail(row, key) === 'number' ? (detail(row, key) as number) : undefined);

// Each event in the page's words: locales/*.json `account.event.*`. An application's name, the
// upstream's, a passkey's are values put into the sentence, never part of the key.
const FAILURE_REASONS = new Set(['bad_credentials', 'disabled', 'locked_out', 'email_unverified']);
const reasonOf = (row: AuditRow) => t(`account.event.reason.${FAILURE_REASONS.has(str(row, 'reason')) ? str(row, 'reason') : 'refused'}`);
const appOr = (app: string | undefined) => app ?? t('account.event.an_application');

const DESCRIPTIONS: Record<string, Describe> = {
  'login.success': (row, app) => {
    const upstream = typeof detail(row, 'upstream') === 'string' ? str(row, 'upstream') : undefined;
    if (app) return upstream ? t('account.event.signed_in_to_through', { app, upstream }) : t('account.event.signed_in_to', { app });
    return upstream ? t('account.event.signed_in_through', { upstream }) : t('account.event.signed_in');
  },
  'upstream.linked': (row) => t('account.event.upstream_linked', { upstream: str(row, 'upstream') }),
  'upstream.unlinked': () => t('account.event.upstream_unlinked'),
  'upstream.failure': (row) => t('account.event.upstream_failure', { upstream: str(row, 'upstream') }),
  'login.failure': (row) => {
    const wrongPassword = detail(row, 'reason') === 'bad_credentials';
    if (detail(row, 'form') === 'add_passkey')
      return wrongPassword ? t('account.event.passkey_not_added_wrong_password') : t('account.event.passkey_not_added', { reason: reasonOf(row) });
    if (detail(row, 'form') !== 'change_password') return t('account.event.sign_in_failed', { reason: reasonOf(row) });
    return wrongPassword ? t('account.event.password_change_refused_wrong_password') : t('account.event.password_change_refused', { reason: reasonOf(row) });
  },
  'login.locked': (row) => (detail(row, 'reason') === 'ip' ? t('account.event.locked_address') : t('account.event.locked')),
  'consent.given': (_row, app) => t('account.event.consent_given', { app: appOr(app) }),
  'consent.revoked': (_row, app) => t('account.event.consent_revoked', { app: appOr(app) }),
  logout: (row, app) => (detail(row, 'everywhere') === true ? t('account.event.signed_out') : t('account.event.signed_out_of', { app: appOr(app) })),
  'token.revoked': (_row, app) => (app ? t('account.event.token_revoked', { app }) : t('account.event.token_revoked_unnamed')),
  'token.replayed': (_row, app) => t('account.event.token_replayed', { app: appOr(app) }),
  'sessions.revoked': (row) => {
    if (detail(row, 'everywhere') === true) return t('account.event.signed_out_everywhere');
    const count = countOf(row, 'sessions');
    return count === undefined ? t('account.event.sessions_revoked_uncounted') : t('account.event.sessions_revoked', { count });
  },
  'password.changed': () => t('account.event.password_changed'),
  'passkey.enrolled': (row) => t('account.event.passkey_added', { name: str(row, 'name') }),
  'passkey.renamed': (row) => t('account.event.passkey_renamed', { name: str(row, 'name') }),
  'passkey.removed': (row) =>
    typeof detail(row, 'name') === 'string' ? t('account.event.passkey_removed', { name: str(row, 'name') }) : t('account.event.passkeys_removed_by_admin'),
  'passkey.used': (row, app) => {
    if (detail(row, 'step') === 'second_factor') return app ? t('account.event.passkey_second_step_for', { app }) : t('account.event.passkey_second_step');
    return app ? t('account.event.passkey_sign_in_to', { app }) : t('account.event.passkey_sign_in');
  },
  'passkey.failed': () => t('account.event.passkey_refused'),
  'user.added': () => t('account.event.account_created'),
  'user.disabled': () => t('account.event.account_disabled'),
  'user.enabled': () => t('account.event.account_enabled'),
  'user.password_set': () => t('account.event.password_set'),
  'user.unlocked': () => t('account.event.unlocked'),
  'mfa.totp.enrolled': () => t('account.event.totp_enrolled'),
  'registration.completed': () => t('account.event.account_created'),
  'registration.email_taken': () => t('account.event.registration_email_taken'),
  'email.verification_sent': () => t('account.event.verification_sent'),
  'email.verified': () => t('account.event.email_verified'),
  'profile.updated': (row) => {
    const fields = detail(row, 'fields');
    if (!Array.isArray(fields)) return t('account.event.profile_changed');
    const names = fields.map((f) =>
      ['name', 'given_name', 'family_name'].includes(String(f)) ? t(`account.event.field.${String(f)}`) : String(f).replace('_', ' '),
    );
    return t('account.event.profile_changed_fields', { fields: names.join(', ') });
  },
  'email.change_requested': () => t('account.event.email_change_requested'),
  'email.changed': () => t('account.event.email_changed'),
  'mfa.totp.removed': () => t('account.event.totp_removed'),
  'mfa.recovery_codes.generated': () => t('account.event.recovery_codes_generated'),
  'mfa.recovery_code.used': (row) => {
    const count = countOf(row, 'remaining');
    return count === undefined ? t('account.event.recovery_code_used_uncounted') : t('account.event.recovery_code_used', { count });
  },
  'mfa.success': (row, app) => {
    if (detail(row, 'step_up') === true) return t('account.event.step_up', { app: appOr(app) });
    return app ? t('account.event.mfa_accepted_for', { app }) : t('account.event.mfa_accepted');
  },
  'mfa.failure': (row) => (detail(row, 'reason') === 'locked_out' ? t('account.event.mfa_refused_locked') : t('account.event.mfa_wrong_code')),
  'mfa.locked': () => t('account.event.mfa_locked'),
  'mfa.enrolment_required': (_row, app) => (app ? t('account.event.mfa_enrolment_required', { app }) : t('account.event.mfa_enrolment_required_unnamed')),
  'mfa.reset': () => t('account.event.mfa_reset'),
  'user.claims_changed': (row) => (detail(row, 'claim') === 'roles' ? t('account.event.roles_changed') : t('account.event.claims_changed')),
};

export function describeSecurityEvent(row: AuditRow, appName: (clientId: string) => string | undefined): SecurityEvent {
  const app = row.client_id ? (appName(row.client_id) ?? row.client_id) : undefined;
  const describe = DESCRIPTIONS[row.event];
  const text = describe ? describe(row, app) : row.event;
  // Repeats of one refusal are one row (audit_log.ts, recordRepeated).
  const repeats = row.repeat_count;
  return { at: row.occurred_at, text: repeats > 1 ? t('account.event.repeated', { text, times: repeats }) : text, ip: row.ip ?? undefined };
}
