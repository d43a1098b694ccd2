import type { Response } from 'express';
import type { UpstreamIdentities } from '../accounts/upstream_identities.js';
import type { Db } from '../db/db.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { Csrf } from '../http/csrf.js';
import type { RenderPage } from '../pages/render_page.js';
import type { AccountSessions } from '../storage/account_sessions.js';
import { ACCOUNT_CLIENT_ID } from '../config/account_client.js';
import type { Runtime } from '../provider/provider_host.js';
import type { ResourceServers } from '../provider/resource_servers.js';
import { describeScope } from '../pages/scope_descriptions.js';
import type { SignedInSession } from './signed_in_session.js';
import type { PasskeysRepo } from '../storage/passkeys_repo.js';
import { amrOf } from '../passkeys/passkey_ceremonies.js';
import { listGrantedApps, type GrantedApp } from './granted_apps.js';
import { describeSecurityEvent } from './security_events.js';
import { describeUserAgent } from './describe_user_agent.js';
import type { SecondFactors } from '../mfa/second_factors.js';
import { t } from '../i18n/page_language.js';

// The account page: profile, sessions, applications, password and recent security events, each
// read fresh from storage. Every form carries a CSRF token bound to the session's uid and to
// what the form does, so a token lifted from one form cannot be replayed on another.

/** What each form does: the purpose its CSRF token is issued for. */
export const ACCOUNT_FORMS = {
  endSession: 'account/end-session',
  revokeApp: 'account/revoke-app',
  changePassword: 'account/change-password',
  signOutEverywhere: 'account/sign-out-everywhere',
  unlinkIdentity: 'account/unlink-identity',
  totpStart: 'account/totp-start',
  totpConfirm: 'account/totp-confirm',
  totpRemove: 'account/totp-remove',
  recoveryCodes: 'account/recovery-codes',
  addPasskey: 'account/add-passkey',
  renamePasskey: 'account/rename-passkey',
  removePasskey: 'account/remove-passkey',
  editProfile: 'account/edit-profile',
  changeEmail: 'account/change-email',
} as const;

/** The confirmations a POST redirects back with (`?done=`), and their text's key; only these are ever shown. */
export const NOTICES = {
  'session-ended': 'account.notice.session_ended',
  'app-revoked': 'account.notice.app_revoked',
  'password-changed': 'account.notice.password_changed',
  'identity-unlinked': 'account.notice.identity_unlinked',
  'totp-enrolled': 'account.notice.totp_enrolled',
  'totp-removed': 'account.notice.totp_removed',
  'passkey-added': 'account.notice.passkey_added',
  'passkey-renamed': 'account.notice.passkey_renamed',
  'profile-updated': 'account.notice.profile_updated',
  'email-change-sent': 'account.notice.email_change_sent',
  'passkey-removed': 'account.notice.passkey_removed',
} as const;

export type Notice = keyof typeof NOTICES;

export interface AccountViewDeps {
  db: Db;
  users: Pick<UsersRepo, 'findBySub'>;
  sessions: Pick<AccountSessions, 'listSessions' | 'listGrants'>;
  audit: Pick<AuditLog, 'listForAccount'>;
  csrf: Pick<Csrf, 'issue'>;
  render: RenderPage;
  runtime: () => Pick<Runtime, 'provider' | 'resources' | 'scopeClaims'>;
  /** linked upstream identities (src/federation/), and the configured name of an upstream id */
  identities: Pick<UpstreamIdentities, 'listFor'>;
  upstreamName: (id: string) => string | undefined;
  mfa: Pick<SecondFactors, 'status' | 'pendingTotp'>;
  passkeysRepo: Pick<PasskeysRepo, 'list'>;
}

export interface AccountPageState {
  notice?: string | undefined;
  /** the profile form's problems, per field (name, given_name, family_name, email) */
  profileErrors?: Record<string, string> | undefined;
  /** the change-password form's problem, shown beside it */
  passwordError?: string | undefined;
  /** the authenticator-app set-up form's problem */
  totpError?: string | undefined;
  /** recovery codes just created: shown on this response only */
  recoveryCodes?: string[] | undefined;
}

const RECENT_EVENTS = 20;

/** `2025-11-26 15:07 UTC`: the server cannot know the reader's zone, and this is unambiguous. */
function formatTime(date: Date | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : t('account.unknown');
}

/**
 * An API's scopes under that API only: the provider knows them as scopes too, so a grant may
 * list one among its OpenID scopes as well as under its API.
 */
function byOwner(app: GrantedApp, resources: Pick<ResourceServers, 'ownerOf'>): { scopes: string[]; apis: Record<string, string[]> } {
  const apis: Record<string, string[]> = Object.fromEntries(Object.entries(app.apis).map(([api, scopes]) => [api, [...scopes]]));
  const scopes: string[] = [];
  for (const scope of app.scopes) {
    const owner = resources.ownerOf(scope);
    if (!owner) scopes.push(scope);
    else if (!(apis[owner] ??= []).includes(scope)) apis[owner].push(scope);
  }
  return { scopes, apis };
}

export function createAccountView(deps: AccountViewDeps) {
  /** Application names by client id, looked up once per page. */
  async function appNames(clientIds: Iterable<string>): Promise<Map<string, string>> {
    const { provider } = deps.runtime();
    const unique = [...new Set(clientIds)];
    const clients = await Promise.all(unique.map((id) => provider.Client.find(id)));
    return new Map(unique.map((id, i) => [id, clients[i]?.clientName ?? id]));
  }

  return {
    /** Renders the page for the signed-in session; `undefined` when its user is gone. */
    async render(res: Response, session: SignedInSession, status: number, state: AccountPageState = {}): Promise<boolean> {
      const user = await deps.users.findBySub(session.accountId);
      if (!user || user.disabled) return false;
      const [sessions, apps, events, factors, pendingTotp, passkeys] = await Promise.all([
        deps.sessions.listSessions(session.accountId),
        listGrantedApps(deps.db, deps.sessions, session.accountId),
        deps.audit.listForAccount(session.accountId, RECENT_EVENTS),
        deps.mfa.status(session.accountId),
        deps.mfa.pendingTotp(session.accountId, user.username),
        deps.passkeysRepo.list(session.accountId),
      ]);
      const names = await appNames([
        ...sessions.flatMap((s) => s.clients),
        ...apps.map((a) => a.clientId),
        ...events.flatMap((e) => (e.client_id ? [e.client_id] : [])),
      ]);
      const { resources, scopeClaims } = deps.runtime();
      const withAccess = new Set(apps.map((a) => a.clientId));
      const issue = (purpose: string) => deps.csrf.issue(purpose, session.uid);

      const linked = await deps.identities.listFor(user.sub);
      const html = await deps.render('account', {
        identities: linked.map((i) => ({
          id: i.id,
          name: deps.upstreamName(i.upstream_id) ?? i.upstream_id,
          linkedAt: formatTime(i.created_at),
          lastUsedAt: formatTime(i.last_used_at),
        })),
        // Unlinking needs another way to sign in left: a password, or another identity.
        canUnlink: user.password_hash !== null || linked.length > 1,
        // A user made by an upstream sign-in has no password to change.
        hasPassword: user.password_hash !== null,
        notice: state.notice,
        passwordError: state.passwordError,
        mfa: { ...factors, pendingTotp, totpError: state.totpError, recoveryCodes: state.recoveryCodes },
        profile: {
          username: user.username,
          name: user.name,
          given_name: user.given_name,
          family_name: user.family_name,
          email: user.email,
          emailVerified: user.email_verified,
        },
        profileErrors: state.profileErrors ?? {},
        sessions: sessions.map((s) => ({
          id: s.id,
          current: s.id === session.key,
          signedInAt: formatTime(s.signedInAt),
          lastActiveAt: formatTime(s.lastActiveAt),
          device: describeUserAgent(s.userAgent),
          ip: s.ip ?? t('account.unknown'),
          // A revoked application keeps its (now grant-less) entry in the session until that
          // ends; it no longer has access through it, so it is not listed.
          apps: s.clients.filter((c) => c !== ACCOUNT_CLIENT_ID && withAccess.has(c)).map((c) => names.get(c) ?? c),
        })),
        apps: apps.map((a) => {
          const { scopes, apis } = byOwner(a, resources);
          return {
            clientId: a.clientId,
            name: names.get(a.clientId) ?? a.clientId,
            scopes: scopes.map((s) => describeScope(s, scopeClaims.identityResources) ?? s),
            apis: Object.entries(apis).map(([identifier, apiScopes]) => ({ name: resources.byIdentifier(identifier)?.name ?? identifier, scopes: apiScopes })),
            grantedAt: formatTime(a.grantedAt),
          };
        }),
        passkeys: passkeys.map((p) => ({
          id: p.id,
          name: p.name,
          kind: amrOf(p) === 'swk' ? t('account.passkeys.synced') : t('account.passkeys.device_bound'),
          createdAt: formatTime(p.createdAt),
          lastUsedAt: p.lastUsedAt ? formatTime(p.lastUsedAt) : t('account.passkeys.never'),
        })),
        events: events.map((row) => {
          const event = describeSecurityEvent(row, (id) => names.get(id));
          return { at: formatTime(event.at), text: event.text, ip: event.ip };
        }),
        tokens: {
          endSession: issue(ACCOUNT_FORMS.endSession),
          revokeApp: issue(ACCOUNT_FORMS.revokeApp),
          changePassword: issue(ACCOUNT_FORMS.changePassword),
          editProfile: issue(ACCOUNT_FORMS.editProfile),
          changeEmail: issue(ACCOUNT_FORMS.changeEmail),
          signOutEverywhere: issue(ACCOUNT_FORMS.signOutEverywhere),
          unlinkIdentity: issue(ACCOUNT_FORMS.unlinkIdentity),
          totpStart: issue(ACCOUNT_FORMS.totpStart),
          totpConfirm: issue(ACCOUNT_FORMS.totpConfirm),
          totpRemove: issue(ACCOUNT_FORMS.totpRemove),
          recoveryCodes: issue(ACCOUNT_FORMS.recoveryCodes),
          addPasskey: issue(ACCOUNT_FORMS.addPasskey),
          renamePasskey: issue(ACCOUNT_FORMS.renamePasskey),
          removePasskey: issue(ACCOUNT_FORMS.removePasskey),
        },
      });
      res.status(status).type('html').send(html);
      return true;
    },
  };
}
