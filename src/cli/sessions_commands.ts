import type { Command } from 'commander';
import { createUsersRepo } from '../accounts/users_repo.js';
import { createAccountSessions, MIN_SESSION_ID_PREFIX } from '../storage/account_sessions.js';
import { storeLogoutNotices } from '../storage/logout_notices.js';
import type { CliContext } from './cli_context.js';
import { CliError } from './cli_errors.js';
import { auditCliAction } from './cli_audit.js';
import { describeEnded, endAllSignIns } from './end_account_sessions.js';
import { formatTable } from './format_table.js';

// `gatehouse sessions …`: see and end users' sign-in sessions. A session is named by the first
// characters of its storage key (a hash of the cookie, so nothing printed here can be replayed).

const SHOWN_ID_LENGTH = 16;

export function registerSessionsCommands(program: Command, ctx: CliContext): void {
  const sessions = program.command('sessions').description("list and end users' sign-in sessions");

  sessions
    .command('list')
    .description("list a user's active sessions")
    .argument('<username>')
    .action(async (username: string) => {
      const found = await ctx.withDb(async (db) => {
        const user = await createUsersRepo(db).findByUsername(username);
        if (!user) throw new CliError(`no user named "${username}"`);
        return createAccountSessions(db).listSessions(user.sub);
      });
      if (found.length === 0) {
        ctx.print(`no active sessions for ${username}`);
        return;
      }
      ctx.print(
        formatTable(
          ['id', 'signed in', 'last active', 'expires', 'ip', 'applications', 'user agent'],
          found.map((s) => [s.id.slice(0, SHOWN_ID_LENGTH), s.signedInAt, s.lastActiveAt, s.expiresAt, s.ip, s.clients.join(','), s.userAgent]),
        ),
      );
    });

  sessions
    .command('revoke')
    .description('end sessions: every session of a user, or one session by the id `sessions list` shows')
    .argument('<username|session-id>')
    // A session id is base64url and may start with '-': take it as the argument, not an option.
    .allowUnknownOption()
    .action(async (target: string) => {
      const message = await ctx.withDb(async (db) => {
        const user = await createUsersRepo(db).findByUsername(target);
        if (user) {
          const ended = await endAllSignIns(db, user.sub);
          await auditCliAction(ctx, db, {
            event: 'sessions.revoked',
            accountId: user.sub,
            username: user.username,
            details: { sessions: ended.sessions, grants: ended.grants },
          });
          return `${user.username}: ${describeEnded(ended)}`;
        }
        const accountSessions = createAccountSessions(db);
        const session = await accountSessions.findSession(target);
        if (session === 'ambiguous') throw new CliError(`session id "${target}" matches more than one session; give more of it`);
        if (!session) {
          const hint = target.length < MIN_SESSION_ID_PREFIX ? '' : ' or session';
          throw new CliError(`no user${hint} "${target}" (a session id needs at least ${MIN_SESSION_ID_PREFIX} characters)`);
        }
        const { ended, notices } = await accountSessions.endSessions(session.accountId, [session.id]);
        await storeLogoutNotices(db, notices);
        await auditCliAction(ctx, db, {
          event: 'sessions.revoked',
          accountId: session.accountId,
          details: { sessions: ended, session: session.id.slice(0, SHOWN_ID_LENGTH) },
        });
        return `session ${session.id.slice(0, SHOWN_ID_LENGTH)} ended, ${notices.length} back-channel logout${notices.length === 1 ? '' : 's'} queued`;
      });
      ctx.print(message);
    });
}
