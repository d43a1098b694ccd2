import type { AuditRow } from '../audit/audit_log.js';

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
const count = (n: unknown, one: string, many: string) => (typeof n === 'number' ? `${n} ${n === 1 ? one : many}` : many);

const FAILURE_REASONS: Record<string, string> = {
  bad_credentials: 'wrong password',
  disabled: 'the account is disabled',
  locked_out: 'too many failed attempts, sign-in was locked',
  email_unverified: 'the email address was not yet confirmed',
};

const DESCRIPTIONS: Record<string, Describe> = {
  'login.success': (row, app) => {
    const through = typeof detail(row, 'upstream') === 'string' ? ` through ${String(detail(row, 'upstream'))}` : '';
    return app ? `Signed in to ${app}${through}` : `Signed in${through}`;
  },
  'upstream.linked': (row) => `Sign-in provider ${String(detail(row, 'upstream'))} linked`,
  'upstream.unlinked': () => 'Sign-in provider unlinked',
  'upstream.failure': (row) => `Failed sign-in through ${String(detail(row, 'upstream'))}`,
  'login.failure': (row) => {
    const reason = FAILURE_REASONS[String(detail(row, 'reason'))] ?? 'refused';
    if (detail(row, 'form') === 'add_passkey')
      return detail(row, 'reason') === 'bad_credentials' ? 'Passkey not added (wrong current password)' : `Passkey not added (${reason})`;
    if (detail(row, 'form') !== 'change_password') return `Failed sign-in (${reason})`;
    return detail(row, 'reason') === 'bad_credentials' ? 'Password change refused (wrong current password)' : `Password change refused (${reason})`;
  },
  'login.locked': (row) =>
    detail(row, 'reason') === 'ip' ? 'Sign-in from this address locked after too many failed attempts' : 'Sign-in locked after too many failed attempts',
  'consent.given': (_row, app) => `Allowed ${app ?? 'an application'} access`,
  'consent.revoked': (_row, app) => `Removed the access of ${app ?? 'an application'}`,
  logout: (row, app) => (detail(row, 'everywhere') === true ? 'Signed out' : `Signed out of ${app ?? 'an application'}`),
  'token.revoked': (_row, app) => `${app ?? 'An application'} gave up its access`,
  'token.replayed': (_row, app) => `A used sign-in code or token of ${app ?? 'an application'} was presented again; its access was revoked to be safe`,
  'sessions.revoked': (row) =>
    detail(row, 'everywhere') === true ? 'Signed out everywhere' : `Signed out ${count(detail(row, 'sessions'), 'session', 'sessions')}`,
  'password.changed': () => 'Password changed',
  'passkey.enrolled': (row) => `Passkey added (${String(detail(row, 'name'))})`,
  'passkey.renamed': (row) => `Passkey renamed to ${String(detail(row, 'name'))}`,
  'passkey.removed': (row) =>
    typeof detail(row, 'name') === 'string' ? `Passkey removed (${String(detail(row, 'name'))})` : 'Passkeys removed by an administrator',
  'passkey.used': (row, app) =>
    detail(row, 'step') === 'second_factor'
      ? `Passkey used as the second step${app ? ` for ${app}` : ''}`
      : `Signed in with a passkey${app ? ` to ${app}` : ''}`,
  'passkey.failed': () => 'Passkey refused',
  'user.added': () => 'Account created',
  'user.disabled': () => 'Account disabled by an administrator',
  'user.enabled': () => 'Account enabled by an administrator',
  'user.password_set': () => 'Password set by an administrator',
  'user.unlocked': () => 'Sign-in lockout lifted by an administrator',
  'mfa.totp.enrolled': () => 'Authenticator app set up',
  'registration.completed': () => 'Account created',
  'registration.email_taken': () => 'Someone tried to register a new account with your address',
  'email.verification_sent': () => 'Confirmation link sent to your email address',
  'email.verified': () => 'Email address confirmed',
  'profile.updated': (row) => {
    const fields = detail(row, 'fields');
    return Array.isArray(fields) ? `Profile changed (${fields.map((f) => String(f).replace('_', ' ')).join(', ')})` : 'Profile changed';
  },
  'email.change_requested': () => 'Change of email address requested (a link was sent to the new address)',
  'email.changed': () => 'Email address changed',
  'mfa.totp.removed': () => 'Authenticator app removed',
  'mfa.recovery_codes.generated': () => 'New recovery codes created',
  'mfa.recovery_code.used': (row) => `Signed in with a recovery code (${count(detail(row, 'remaining'), 'code', 'codes')} left)`,
  'mfa.success': (row, app) =>
    detail(row, 'step_up') === true ? `Confirmed a second factor for ${app ?? 'an application'}` : `Second factor accepted${app ? ` for ${app}` : ''}`,
  'mfa.failure': (row) => (detail(row, 'reason') === 'locked_out' ? 'Second factor refused (too many wrong codes, locked)' : 'Wrong second-factor code'),
  'mfa.locked': () => 'Second-factor codes locked after too many wrong attempts',
  'mfa.enrolment_required': (_row, app) => `${app ?? 'An application'} asked for a second factor; set-up offered`,
  'mfa.reset': () => 'Second factors removed by an administrator',
  'user.claims_changed': (row) => (detail(row, 'claim') === 'roles' ? 'Roles changed by an administrator' : 'Account details changed by an administrator'),
};

export function describeSecurityEvent(row: AuditRow, appName: (clientId: string) => string | undefined): SecurityEvent {
  const app = row.client_id ? (appName(row.client_id) ?? row.client_id) : undefined;
  const describe = DESCRIPTIONS[row.event];
  const text = describe ? describe(row, app) : row.event;
  // Repeats of one refusal are one row (audit_log.ts, recordRepeated).
  const repeats = row.repeat_count;
  return { at: row.occurred_at, text: repeats > 1 ? `${text}, ${repeats} times` : text, ip: row.ip ?? undefined };
}
