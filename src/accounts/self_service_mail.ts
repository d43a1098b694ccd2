import type { User } from './users_repo.js';

// What the self-service pages mail and the links they check, as the pages see it. The mail
// queue (src/mail/) and the single-use link tokens (storage/link_tokens.ts) are behind it;
// app/self_service_mail.ts builds it. Every send is queued (an SMTP outage loses nothing) and
// never awaited beyond the queue's insert.

export type LinkPurpose = 'verify_email' | 'change_email';

export interface LinkData {
  sub: string;
  /** the address the link confirms */
  email: string;
  /** verify_email: the interaction that registered, to continue it */
  uid?: string | undefined;
}

export type SecurityNotice = 'password_changed' | 'totp_enrolled' | 'passkey_added';

export interface SelfServiceMail {
  /** The verification link of a self-registered account (to its address). */
  sendVerification(user: User, uid: string | undefined): Promise<void>;
  /** To the owner of an address someone tried to register again; no link. */
  sendAlreadyRegistered(user: User): Promise<void>;
  /** The confirmation link to the new address, and a notice to the old one (when there is one). */
  sendEmailChange(user: User, newEmail: string): Promise<void>;
  /** A security notice to the user's address (nothing when the user has none). */
  sendNotice(user: User, notice: SecurityNotice): Promise<void>;
  /** A live link's data without using it (showing the confirm button). */
  peekLink(purpose: LinkPurpose, token: string): Promise<LinkData | undefined>;
  /** Uses the link: its data the first time, undefined ever after (or when expired or superseded). */
  consumeLink(purpose: LinkPurpose, token: string): Promise<LinkData | undefined>;
}
