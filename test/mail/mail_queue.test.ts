import { afterEach, describe, expect, it } from 'vitest';
import { startGatehouseWithUsers, buildUser } from '../support/factories.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { firstLink, freePort, startSmtpSink, type SmtpSink } from '../support/smtp_sink.js';
import { eventually } from '../support/eventually.js';
import { createLinkToken, consumeLinkToken, peekLinkToken } from '../../src/storage/link_tokens.js';

// The mail queue (src/mail/mailer.ts): a message is stored before it is sent, reaches a real SMTP
// server parsed back as text and HTML, survives a mail server that is down, and is only logged
// (with its link) when SMTP_URL is unset.

type OutboxRow = { attempts: number; sent_at: Date | null; last_error: string | null; text_body: string };

describe('mail queue', () => {
  let gh: RunningGatehouse | undefined;
  let sink: SmtpSink | undefined;
  afterEach(async () => {
    await gh?.close();
    await sink?.close();
    gh = undefined;
    sink = undefined;
  });
  const outbox = async (id: string) =>
    (await gh!.testDb.db.query<OutboxRow>('SELECT attempts, sent_at, last_error, text_body FROM mail_outbox WHERE id = $1', [id])).rows[0]!;

  it('sends a rendered message (text and HTML) through SMTP_URL and keeps no body once sent', async () => {
    sink = await startSmtpSink();
    ({ gh } = await startGatehouseWithUsers([], { env: { SMTP_URL: sink.url, MAIL_FROM: 'Gatehouse <id@example.test>' } }));
    const link = 'https://id.example.test/reset/abc';
    const { id } = await gh.gatehouse.mailer.send({ to: 'ada@example.test', template: 'password_reset', locals: { link, name: 'Ada', username: 'ada' } });
    const message = await sink.waitFor('ada@example.test');
    expect(message.subject).toBe('Reset your Gatehouse password');
    expect(message.parsed.from?.value[0]?.address).toBe('id@example.test');
    expect(firstLink(message)).toBe(link);
    expect(message.html).toContain(`href="${link}"`);
    await gh.gatehouse.mailer.idle();
    const row = await outbox(id);
    expect(row.sent_at).not.toBeNull();
    expect(row.text_body).toBe('');
    // Neither the link nor the address is in the log.
    expect(gh.rawLogs()).not.toContain(link);
    expect(gh.rawLogs()).not.toContain('ada@example.test');
  });

  it('keeps a message while the mail server is down and delivers it once it is up', async () => {
    const port = await freePort();
    ({ gh } = await startGatehouseWithUsers([], { env: { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_RETRY_SECONDS: '0.1' } }));
    const { id } = await gh.gatehouse.mailer.send({
      to: 'bob@example.test',
      template: 'invitation',
      locals: { link: 'https://x.test/i/1', name: '', username: 'bob' },
    });
    await gh.gatehouse.mailer.idle();
    const failed = await outbox(id);
    expect(failed.attempts).toBe(1);
    expect(failed.sent_at).toBeNull();
    expect(failed.last_error).toBeTruthy();

    sink = await startSmtpSink(port);
    const live = gh;
    await eventually(async () => (await live.gatehouse.mailer.deliverDue()).delivered === 1, { what: 'the retry to deliver' });
    const message = await sink.waitFor('bob@example.test');
    expect(firstLink(message)).toBe('https://x.test/i/1');
    expect((await outbox(id)).sent_at).not.toBeNull();
    // Sent once, not again.
    expect(await gh.gatehouse.mailer.deliverDue()).toEqual({ delivered: 0, failed: 0 });
    expect(sink.messages).toHaveLength(1);
  });

  it('logs the message with its link when SMTP_URL is unset, and marks it sent', async () => {
    ({ gh } = await startGatehouseWithUsers([]));
    const { id } = await gh.gatehouse.mailer.send({
      to: 'dev@example.test',
      template: 'invitation',
      locals: { link: 'https://x.test/i/dev', name: 'Dev', username: 'dev' },
    });
    await gh.gatehouse.mailer.idle();
    const line = gh.logs.find((l) => l.event === 'mail.logged');
    expect(line?.level).toBe(30);
    expect(line?.msg).toContain('https://x.test/i/dev');
    expect(line?.msg).toContain('dev@example.test');
    expect((await outbox(id)).sent_at).not.toBeNull();
  });

  it('link tokens: single use, superseded by a newer one of the same purpose, dead once expired', async () => {
    let users;
    ({ gh, users } = await startGatehouseWithUsers([buildUser()]));
    const db = gh.testDb.db;
    const sub = users[0]!.sub;
    const first = await createLinkToken(db, { purpose: 'password_reset', sub, ttlSeconds: 1800 });
    const other = await createLinkToken(db, { purpose: 'invitation', sub, ttlSeconds: 1800 });
    const second = await createLinkToken(db, { purpose: 'password_reset', sub, ttlSeconds: 1800 });
    expect(await peekLinkToken(db, 'password_reset', first)).toBeUndefined();
    expect((await peekLinkToken(db, 'password_reset', second))?.sub).toBe(sub);
    expect(await consumeLinkToken(db, 'invitation', second)).toBeUndefined();
    expect((await consumeLinkToken(db, 'password_reset', second))?.sub).toBe(sub);
    expect(await consumeLinkToken(db, 'password_reset', second)).toBeUndefined();
    expect((await consumeLinkToken(db, 'invitation', other))?.sub).toBe(sub);
    const third = await createLinkToken(db, { purpose: 'password_reset', sub, ttlSeconds: 1800 });
    await db.query(`UPDATE link_tokens SET expires_at = now() - interval '1 second' WHERE sub = $1`, [sub]);
    expect(await consumeLinkToken(db, 'password_reset', third)).toBeUndefined();
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM link_tokens');
    expect(rows[0]!.n).toBeGreaterThan(0);
    // Only hashes are stored.
    const stored = await db.query<{ token_hash: Buffer }>('SELECT token_hash FROM link_tokens');
    for (const row of stored.rows) expect(row.token_hash.toString('base64url')).not.toBe(third);
  });
});
