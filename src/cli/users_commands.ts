import { queueSecurityNotice } from '../app/self_service_mail.js';
import type { Command } from 'commander';
import type { z } from 'zod';
import { createUsersRepo, type User, type UsersRepo } from '../accounts/users_repo.js';
import { createPasswordReplacer } from '../logout/replace_password.js';
import { createAccountSessions } from '../storage/account_sessions.js';
import { storeLogoutNotices } from '../storage/logout_notices.js';
import { loadThrottleKeys } from '../throttling/throttle_keys.js';
import { forgetAccountFailures } from '../throttling/login_throttle.js';
import { newUserSchema } from '../accounts/user_schema.js';
import { passwordProblem } from '../accounts/password_policy.js';
import { formatIssues } from '../config/format_issues.js';
import { inOurWords } from '../config/issue_wording.js';
import type { CliContext } from './cli_context.js';
import { CliError } from './cli_errors.js';
import { readPasswordFromStdin } from './read_password.js';
import { auditCliAction } from './cli_audit.js';
import { formatTable } from './format_table.js';
import { describeEnded, endAllSignIns } from './end_account_sessions.js';
import { registerUserClaimsCommands } from './user_claims_commands.js';
import { removeAllFactors } from '../mfa/second_factors.js';
import { createLogger } from '../core/log.js';
import { createMailer } from '../mail/mailer.js';
import { createLinkToken } from '../storage/link_tokens.js';
import { INVITATION_TTL_SECONDS } from '../self_service/password_reset.js';
import { LOCALES, isLocale } from '../i18n/locales.js';

// `gatehouse users …`: the only way to create accounts. Passwords come from stdin only, and
// neither a password nor its hash is ever printed.

interface AddOptions {
  email?: string;
  name?: string;
  givenName?: string;
  familyName?: string;
  emailVerified?: boolean;
}

const noSuchUser = (username: string) => new CliError(`no user named "${username}"`);

function invalid(what: string, error: z.ZodError): CliError {
  return new CliError(`invalid ${what}: ${formatIssues(error).join('; ')}`);
}

async function findOrFail(users: UsersRepo, username: string): Promise<User> {
  const user = await users.findByUsername(username);
  if (!user) throw noSuchUser(username);
  return user;
}

export function registerUsersCommands(program: Command, ctx: CliContext): void {
  const users = program.command('users').description('manage user accounts');

  users
    .command('add')
    .description("create a user; prints the new user's sub")
    .argument('<username>', 'sign-in name (letters, digits and . _ @ + -)')
    .option('--email <email>', 'email address (also accepted at sign-in)')
    .option('--name <name>', 'full name')
    .option('--given-name <name>', 'given name')
    .option('--family-name <name>', 'family name')
    .option('--email-verified', 'mark the email address as verified')
    .requiredOption('--password-stdin', 'read the password from stdin')
    .addHelpText(
      'after',
      `\nExample:\n  printf '%s\\n' "$PASSWORD" | gatehouse users add alice --email alice@example.com --name "Alice Liddell" --password-stdin`,
    )
    .action(async (username: string, opts: AddOptions) => {
      const password = await readPasswordFromStdin(ctx.io.stdin);
      const parsed = newUserSchema.safeParse(
        {
          username,
          email: opts.email,
          name: opts.name,
          given_name: opts.givenName,
          family_name: opts.familyName,
          email_verified: opts.emailVerified ?? false,
          password,
        },
        { error: inOurWords },
      );
      if (!parsed.success) throw invalid('user', parsed.error);
      const problem = await passwordProblem(parsed.data.password, parsed.data);
      if (problem) throw new CliError(`invalid user: password: ${problem}`);
      const user = await ctx.withDb(async (db) => {
        const created = await createUsersRepo(db).create(parsed.data);
        await auditCliAction(ctx, db, { event: 'user.added', accountId: created.sub, username: created.username });
        return created;
      });
      ctx.print(user.sub);
    });

  users
    .command('invite')
    .description("create a user without a password and mail them a link to choose one (7 days, single use); prints the user's sub")
    .argument('<username>', 'sign-in name (letters, digits and . _ @ + -)')
    .requiredOption('--email <email>', 'where the invitation goes')
    .option('--name <name>', 'full name')
    .option('--locale <locale>', `the language the user reads, for the invitation and later mails (${LOCALES.join(', ')}; default: en)`)
    .addHelpText(
      'after',
      '\nInviting again a user who has not set a password yet sends a new link; the older one stops working.\nExample:\n  gatehouse users invite alice --email alice@example.com --name "Alice Liddell"',
    )
    .action(async (username: string, opts: { email: string; name?: string; locale?: string }) => {
      const parsed = newUserSchema.omit({ password: true }).safeParse({ username, email: opts.email, name: opts.name }, { error: inOurWords });
      if (!parsed.success) throw invalid('user', parsed.error);
      if (opts.locale !== undefined && !isLocale(opts.locale)) throw new CliError(`--locale must be one of ${LOCALES.join(', ')}`);
      const locale = opts.locale;
      const email = parsed.data.email ?? opts.email;
      const env = ctx.env();
      // Mail log lines (and, without SMTP_URL, the message itself) go to stderr.
      const log = createLogger(env.mail.smtpUrl ? 'warn' : 'info', ctx.io.stderr as NodeJS.WritableStream);
      const outcome = await ctx.withDb(async (db) => {
        const repo = createUsersRepo(db);
        const existing = await repo.findByUsername(username);
        if (existing && existing.password_hash !== null) throw new CliError(`user "${existing.username}" already has a password; use \`users set-password\``);
        if (existing && existing.email?.toLowerCase() !== email.toLowerCase())
          throw new CliError(`user "${existing.username}" was invited at another address; delete the user to invite them elsewhere`);
        const user = existing ?? (await repo.createInvited({ username: parsed.data.username, email, name: parsed.data.name }));
        if (locale) await repo.setLocale(user.sub, locale);
        const token = await createLinkToken(db, { purpose: 'invitation', sub: user.sub, ttlSeconds: INVITATION_TTL_SECONDS });
        const mailer = createMailer({ db, log, settings: env.mail });
        const { id } = await mailer.send({
          to: email,
          template: 'invitation',
          sub: user.sub,
          locale: locale ?? (isLocale(user.locale) ? user.locale : undefined),
          locals: { link: `${env.issuer}/invitation?token=${token}`, name: user.name ?? '', username: user.username },
        });
        await mailer.idle();
        const { rows } = await db.query<{ sent: boolean }>('SELECT sent_at IS NOT NULL AS sent FROM mail_outbox WHERE id = $1', [id]);
        await auditCliAction(ctx, db, { event: 'user.invited', accountId: user.sub, username: user.username, details: { reinvited: Boolean(existing) } });
        return { user, sent: rows[0]?.sent ?? false };
      });
      if (!outcome.sent) ctx.io.stderr.write('note: the mail server did not take the invitation yet; a running Gatehouse retries it\n');
      ctx.print(outcome.user.sub);
    });

  users
    .command('list')
    .description('list users')
    .action(async () => {
      const all = await ctx.withDb((db) => createUsersRepo(db).list());
      if (all.length === 0) {
        ctx.print('no users');
        return;
      }
      ctx.print(
        formatTable(
          ['username', 'email', 'name', 'disabled', 'sub', 'created'],
          all.map((u) => [u.username, u.email, u.name, u.disabled, u.sub, u.created_at]),
        ),
      );
    });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(verb)
      .description(disabled ? 'stop a user from signing in; ends their sessions and revokes their grants and tokens' : 'let a disabled user sign in again')
      .argument('<username>')
      .action(async (username: string) => {
        const { user, ended } = await ctx.withDb(async (db) => {
          const changed = await createUsersRepo(db).setDisabled(username, disabled);
          if (!changed) return { user: changed, ended: undefined };
          // A disabled user is signed out everywhere at once, not when their sessions expire.
          const ended = disabled ? await endAllSignIns(db, changed.sub) : undefined;
          await auditCliAction(ctx, db, { event: disabled ? 'user.disabled' : 'user.enabled', accountId: changed.sub, username: changed.username });
          return { user: changed, ended };
        });
        if (!user) throw noSuchUser(username);
        ctx.print(`${user.username} is ${disabled ? 'disabled' : 'enabled'}${ended ? `; ${describeEnded(ended)}` : ''}`);
      });
  }

  users
    .command('set-password')
    .description("replace a user's password; ends their sessions and revokes their grants and tokens")
    .argument('<username>')
    .requiredOption('--password-stdin', 'read the new password from stdin')
    .action(async (username: string) => {
      const password = await readPasswordFromStdin(ctx.io.stdin);
      const { user, replaced } = await ctx.withDb(async (db) => {
        const repo = createUsersRepo(db);
        const found = await findOrFail(repo, username);
        const problem = await passwordProblem(password, found);
        if (problem) throw new CliError(`invalid password: ${problem}`);
        // A reset: whoever knew the old password is signed out everywhere (replace_password.ts).
        // The CLI cannot sign logout tokens: the running server sends the queued notices.
        const replacePassword = createPasswordReplacer({
          users: repo,
          sessions: createAccountSessions(db),
          notify: async (notices) => {
            await storeLogoutNotices(db, notices);
          },
        });
        const replaced = await replacePassword(found.sub, password);
        await auditCliAction(ctx, db, {
          event: 'user.password_set',
          accountId: found.sub,
          username: found.username,
          details: { sessions_ended: replaced.sessionsEnded, grants_revoked: replaced.grantsRevoked, logouts: replaced.logoutNotices },
        });
        // The user is told by mail (sent by the running server from the outbox).
        await queueSecurityNotice(db, found, 'password_changed');
        return { user: found, replaced };
      });
      const ended = { sessions: replaced.sessionsEnded, grants: replaced.grantsRevoked, notices: replaced.logoutNotices };
      ctx.print(`password changed for ${user.username}; ${describeEnded(ended)}`);
    });

  users
    .command('unlock')
    .description('lift a sign-in lockout of a user (and forget their failed sign-ins) before it ends')
    .argument('<username>')
    .action(async (username: string) => {
      const { user, lifted } = await ctx.withDb(async (db) => {
        const found = await findOrFail(createUsersRepo(db), username);
        // The account's counter is keyed by an HMAC of its sub (throttle_keys.ts): not a key
        // anyone can type into a DELETE by hand.
        const lifted = await forgetAccountFailures(db, await loadThrottleKeys(db), found.sub);
        await auditCliAction(ctx, db, { event: 'user.unlocked', accountId: found.sub, username: found.username });
        return { user: found, lifted };
      });
      ctx.print(lifted ? `${user.username}: failed sign-ins forgotten, any lockout lifted` : `${user.username} had no failed sign-ins to forget`);
    });

  users
    .command('delete')
    .description('delete a user, their remembered consents, sessions and grants')
    .argument('<username>')
    .action(async (username: string) => {
      const { user, ended } = await ctx.withDb(async (db) => {
        const repo = createUsersRepo(db);
        const found = await repo.findByUsername(username);
        if (!found) return { user: undefined, ended: undefined };
        const ended = await endAllSignIns(db, found.sub);
        const deleted = await repo.delete(username);
        if (deleted) await auditCliAction(ctx, db, { event: 'user.deleted', accountId: deleted.sub, username: deleted.username });
        return { user: deleted, ended };
      });
      if (!user) throw noSuchUser(username);
      ctx.print(`deleted ${user.username} (${user.sub}); ${describeEnded(ended)}`);
    });

  registerUserClaimsCommands(users, ctx);

  const mfa = users.command('mfa').description("manage a user's second factors");
  mfa
    .command('reset')
    .description("remove every second factor (authenticator app, recovery codes, passkeys) and end the user's sessions")
    .argument('<username>')
    .action(async (username: string) => {
      const summary = await ctx.withDb(async (db) => {
        const user = await findOrFail(createUsersRepo(db), username);
        // Every kind in FACTOR_KINDS (second_factors.ts): passkeys register theirs there too.
        const removed = await removeAllFactors(db, user.sub);
        const ended = await endAllSignIns(db, user.sub);
        await auditCliAction(ctx, db, { event: 'mfa.reset', accountId: user.sub, username: user.username, details: { removed, sessions: ended.sessions } });
        return { removed, ended };
      });
      const parts = Object.entries(summary.removed).map(([kind, n]) => `${kind} ${n}`);
      ctx.print(`second factors removed (${parts.join(', ')}); ${describeEnded(summary.ended)}`);
    });
}
