import type { Db } from '../db/db.js';
import { MAIL_VIEWS_DIR, renderMail, type Mailer } from '../mail/mailer.js';
import { recipientLocale } from '../i18n/page_language.js';
import { storeMail } from '../storage/mail_outbox.js';
import type { User } from '../accounts/users_repo.js';
import type { LinkData, LinkPurpose, SecurityNotice, SelfServiceMail } from '../accounts/self_service_mail.js';
import { consumeLinkToken, createLinkToken, peekLinkToken, type LinkToken } from '../storage/link_tokens.js';

// The self-service pages' mail (accounts/self_service_mail.ts) over the mail queue and the
// single-use link tokens: a link's token is made here, put in the mail and nowhere else (only
// its hash is stored); a newer link of the same purpose supersedes the older one.

const LINK_TTL_SECONDS = 24 * 3600;
const PATHS: Record<LinkPurpose, string> = { verify_email: 'verify-email', change_email: 'account/email/confirm' };

function linkData(token: LinkToken | undefined): LinkData | undefined {
  if (!token || typeof token.data.email !== 'string') return undefined;
  return { sub: token.sub, email: token.data.email, uid: typeof token.data.uid === 'string' ? token.data.uid : undefined };
}

export function createSelfServiceMail({ db, mailer, issuer }: { db: Db; mailer: Pick<Mailer, 'send'>; issuer: string }): SelfServiceMail {
  const base = issuer.endsWith('/') ? issuer : `${issuer}/`;
  const person = (user: User) => ({ name: user.name ?? '', username: user.username });
  // Written in the language the user reads, else the page's that caused the mail.
  const to = (user: User, address: string) => ({ to: address, sub: user.sub, locale: recipientLocale(user.locale) });

  async function link(purpose: LinkPurpose, user: User, data: Record<string, unknown>): Promise<string> {
    const token = await createLinkToken(db, { purpose, sub: user.sub, ttlSeconds: LINK_TTL_SECONDS, data });
    const url = new URL(PATHS[purpose], base);
    url.searchParams.set('token', token);
    return url.href;
  }

  return {
    async sendVerification(user, uid) {
      if (!user.email) return;
      const href = await link('verify_email', user, { email: user.email, ...(uid ? { uid } : {}) });
      await mailer.send({ ...to(user, user.email), template: 'verify_email', locals: { ...person(user), link: href } });
    },
    async sendAlreadyRegistered(user) {
      if (!user.email) return;
      await mailer.send({ ...to(user, user.email), template: 'already_registered', locals: person(user) });
    },
    async sendEmailChange(user, newEmail) {
      const href = await link('change_email', user, { email: newEmail });
      await mailer.send({ ...to(user, newEmail), template: 'email_change', locals: { ...person(user), link: href } });
      if (user.email) await mailer.send({ ...to(user, user.email), template: 'email_change_notice', locals: { ...person(user), newAddress: newEmail } });
    },
    async sendNotice(user, notice) {
      if (!user.email) return;
      await mailer.send({ ...to(user, user.email), template: 'security_notice', locals: { ...person(user), notice } });
    },
    async peekLink(purpose, token) {
      return linkData(await peekLinkToken(db, purpose, token));
    },
    async consumeLink(purpose, token) {
      return linkData(await consumeLinkToken(db, purpose, token));
    },
  };
}

/**
 * For a process that does not send mail itself (the CLI): the notice is stored in the outbox,
 * and the running server's retry loop sends it (or logs it without SMTP_URL).
 */
export async function queueSecurityNotice(db: Db, user: User, notice: SecurityNotice): Promise<boolean> {
  if (!user.email) return false;
  const rendered = await renderMail(
    'security_notice',
    { brand: 'Gatehouse', name: user.name ?? '', username: user.username, notice },
    MAIL_VIEWS_DIR,
    recipientLocale(user.locale),
  );
  await storeMail(db, { template: 'security_notice', to: user.email, sub: user.sub, ...rendered });
  return true;
}
