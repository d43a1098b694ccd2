import path from 'node:path';
import { existsSync } from 'node:fs';
import ejs from 'ejs';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import { VIEWS_DIR } from '../pages/render_page.js';
import { translatorFor } from '../i18n/catalogues.js';
import { DEFAULT_LOCALE, type Locale } from '../i18n/locales.js';
import { loadOnce } from '../core/load_once.js';
import { claimDueMail, dropMail, markMailSent, recordMailFailure, storeMail, type QueuedMail } from '../storage/mail_outbox.js';

// Outgoing mail that survives mail server outages and restarts (like the back-channel logout
// queue, logout/backchannel_logout_queue.ts). `send` renders the template, writes the message to
// Postgres (mail_outbox) and tries it at once in the background; a failure stays queued and is
// retried with exponential backoff by whichever instance runs `startRetrying` (claims use
// FOR UPDATE SKIP LOCKED). Without SMTP_URL each message is logged at info level (development)
// and marked sent.
//
// Templates: views/mail/<template>.text.ejs (required; its first line `Subject: ...` is the
// subject) and views/mail/<template>.html.ejs (optional). Locals are the caller's plus `brand`,
// and `t` and `lang` in the recipient's language (`locale`, English by default; locales/*.json
// `mail.*`).

export interface MailSettings {
  /** smtp:// or smtps://; undefined logs messages instead of sending them */
  smtpUrl?: string | undefined;
  from: string;
  /** first retry delay; each later one doubles, up to an hour */
  retryBaseMs: number;
  /** attempts before a message is dropped (and logged as given up) */
  maxAttempts: number;
}

export interface SendMail {
  to: string;
  /** views/mail/<template>.text.ejs (+ .html.ejs) */
  template: string;
  locals?: Record<string, unknown>;
  /** the user the message is about */
  sub?: string | undefined;
  /** the language to write in (recipientLocale of i18n/page_language.ts); English when not given */
  locale?: Locale | undefined;
}

export interface Mailer {
  /** Renders and queues the message, then tries it in the background. Resolves once it is stored (the send itself is not awaited). */
  send(mail: SendMail): Promise<{ id: string }>;
  /** Sends every message that is due (a failed one whose backoff passed, or one a dead process left). */
  deliverDue(limit?: number): Promise<{ delivered: number; failed: number }>;
  startRetrying(intervalMs: number): { stop(): void };
  /** Resolves when every send started by `send` has been tried (tests, shutdown). */
  idle(): Promise<void>;
  /** whether messages go to a mail server (false: logged) */
  readonly enabled: boolean;
}

const CLAIM_SECONDS = 60;
const MAX_BACKOFF_MS = 3600_000;
export const MAIL_VIEWS_DIR = path.join(VIEWS_DIR, 'mail');

export function mailRetryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(attempts - 1, 0), MAX_BACKOFF_MS);
}

export interface RenderedMail {
  subject: string;
  text: string;
  html?: string | undefined;
}

/** Renders views/mail/<template>.text.ejs (first line `Subject: …`) and .html.ejs if present, in `locale`. */
export async function renderMail(
  template: string,
  given: Record<string, unknown>,
  viewsDir = MAIL_VIEWS_DIR,
  locale: Locale = DEFAULT_LOCALE,
): Promise<RenderedMail> {
  if (!/^[a-z0-9_]+$/.test(template)) throw new Error(`bad mail template name ${template}`);
  const base = path.join(viewsDir, template);
  const translator = translatorFor(locale);
  const locals = { ...given, t: translator.t, lang: translator.locale };
  const raw = await ejs.renderFile(`${base}.text.ejs`, locals, {
    cache: true,
    async: false,
    escape: (s: unknown) => (typeof s === 'string' ? s : s == null ? '' : JSON.stringify(s)),
  });
  const match = /^Subject: *(.*)\r?\n(?:\r?\n)?/.exec(raw);
  if (!match?.[1]) throw new Error(`mail template ${template}.text.ejs must start with a "Subject: " line`);
  const subject = match[1].trim();
  const text = raw.slice(match[0].length);
  const htmlFile = `${base}.html.ejs`;
  const html = existsSync(htmlFile) ? await ejs.renderFile(htmlFile, { ...locals, subject }, { cache: true, async: false }) : undefined;
  return { subject, text, html };
}

/** nodemailer's options for SMTP_URL: smtp:// upgrades with STARTTLS when offered; smtps:// is TLS from the first byte. */
export function smtpOptions(smtpUrl: string) {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
}

type Transport = { sendMail(message: Record<string, unknown>): Promise<unknown>; close(): void };

// nodemailer (≈ 2 MB of heap) is imported for the first message sent, not at start
// (core/load_once.ts): a server that sends no mail never loads it.
const nodemailer = loadOnce(async () => (await import('nodemailer')).default);

export function createMailer({
  db,
  log,
  settings,
  brand = 'Gatehouse',
}: {
  db: Db;
  log: Logger;
  settings: MailSettings;
  brand?: string | (() => string);
}): Mailer {
  const brandName = () => (typeof brand === 'function' ? brand() : brand);
  // SMTP_URL is read now, so a bad one still fails at start; the transport is made at the first send.
  const options = settings.smtpUrl ? smtpOptions(settings.smtpUrl) : undefined;
  const transport = options ? loadOnce(async (): Promise<Transport> => (await nodemailer()).createTransport(options)) : undefined;
  const pending = new Set<Promise<unknown>>();

  async function attempt(mail: QueuedMail): Promise<boolean> {
    if (!transport) {
      // Development: the whole message, link included, in the log; nothing leaves the machine.
      log.info(
        { event: 'mail.logged', mail_id: mail.id, template: mail.template, recipient: mail.to, subject: mail.subject, body: mail.text },
        `mail not sent (no SMTP_URL): to ${mail.to}: ${mail.subject}\n${mail.text}`,
      );
      await markMailSent(db, mail.id);
      return true;
    }
    try {
      await (await transport()).sendMail({ from: settings.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
    } catch (error) {
      const attempts = mail.attempts + 1;
      const message = (error as Error).message.slice(0, 500);
      if (attempts >= settings.maxAttempts) {
        await dropMail(db, mail.id);
        log.error(
          { event: 'mail.gave_up', mail_id: mail.id, template: mail.template, sub: mail.sub, attempts, error: message },
          'mail abandoned after repeated failures',
        );
      } else {
        const delay = mailRetryDelayMs(attempts, settings.retryBaseMs);
        await recordMailFailure(db, mail.id, message, delay / 1000);
        log.warn(
          { event: 'mail.retry_scheduled', mail_id: mail.id, template: mail.template, sub: mail.sub, attempts, retry_in_ms: delay, error: message },
          'mail not sent; will retry',
        );
      }
      return false;
    }
    await markMailSent(db, mail.id);
    log.info({ event: 'mail.sent', mail_id: mail.id, template: mail.template, sub: mail.sub }, 'mail sent');
    return true;
  }

  const safeAttempt = (mail: QueuedMail) =>
    attempt(mail).catch((error: unknown) => {
      log.warn({ err: error, mail_id: mail.id }, 'mail attempt failed to record its outcome');
      return false;
    });

  const mailer: Mailer = {
    enabled: Boolean(transport),

    async send({ to, template, locals = {}, sub, locale }) {
      const rendered = await renderMail(template, { brand: brandName(), ...locals }, MAIL_VIEWS_DIR, locale);
      const queued = await storeMail(db, { template, to, sub, ...rendered }, CLAIM_SECONDS);
      const trying = safeAttempt(queued);
      pending.add(trying);
      void trying.finally(() => pending.delete(trying));
      return { id: queued.id };
    },

    async deliverDue(limit = 20) {
      const due = await claimDueMail(db, limit, CLAIM_SECONDS);
      const results = await Promise.all(due.map(safeAttempt));
      const delivered = results.filter(Boolean).length;
      return { delivered, failed: results.length - delivered };
    },

    startRetrying(intervalMs) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        mailer
          .deliverDue()
          .catch((error: unknown) => log.warn({ err: error }, 'mail retry pass failed'))
          .finally(() => {
            running = false;
          });
      }, intervalMs);
      timer.unref();
      return {
        stop: () => {
          clearInterval(timer);
        },
      };
    },

    async idle() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
  return mailer;
}
