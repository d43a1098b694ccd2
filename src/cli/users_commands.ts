import type { Command } from 'commander';
import type { z } from 'zod';
import { createUsersRepo, type User, type UsersRepo } from '../accounts/users_repo.js';
import { hashPassword } from '../accounts/passwords.js';
import { newUserSchema, passwordSchema } from '../accounts/user_schema.js';
import { formatIssues } from '../config/format_issues.js';
import type { CliContext } from './cli_context.js';
import { CliError } from './cli_errors.js';
import { readPasswordFromStdin } from './read_password.js';
import { formatTable } from './format_table.js';

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
    .description('create a user; prints the new user\'s sub')
    .argument('<username>', 'sign-in name (letters, digits and . _ @ + -)')
    .option('--email <email>', 'email address (also accepted at sign-in)')
    .option('--name <name>', 'full name')
    .option('--given-name <name>', 'given name')
    .option('--family-name <name>', 'family name')
    .option('--email-verified', 'mark the email address as verified')
    .requiredOption('--password-stdin', 'read the password from stdin')
    .addHelpText('after', `\nExample:\n  printf '%s\\n' "$PASSWORD" | gatehouse users add alice --email alice@example.com --name "Alice Liddell" --password-stdin`)
    .action(async (username: string, opts: AddOptions) => {
      const password = await readPasswordFromStdin(ctx.io.stdin);
      const parsed = newUserSchema.safeParse({
        username,
        email: opts.email,
        name: opts.name,
        given_name: opts.givenName,
        family_name: opts.familyName,
        email_verified: opts.emailVerified ?? false,
        password,
      });
      if (!parsed.success) throw invalid('user', parsed.error);
      const user = await ctx.withDb((db) => createUsersRepo(db).create(parsed.data));
      ctx.print(user.sub);
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

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    users
      .command(verb)
      .description(disabled ? 'stop a user from signing in (their tokens stop answering at userinfo)' : 'let a disabled user sign in again')
      .argument('<username>')
      .action(async (username: string) => {
        const user = await ctx.withDb((db) => createUsersRepo(db).setDisabled(username, disabled));
        if (!user) throw noSuchUser(username);
        ctx.print(`${user.username} is ${disabled ? 'disabled' : 'enabled'}`);
      });
  }

  users
    .command('set-password')
    .description('replace a user\'s password')
    .argument('<username>')
    .requiredOption('--password-stdin', 'read the new password from stdin')
    .action(async (username: string) => {
      const password = await readPasswordFromStdin(ctx.io.stdin);
      const parsed = passwordSchema.safeParse(password);
      if (!parsed.success) throw new CliError(`invalid password: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
      const user = await ctx.withDb(async (db) => {
        const repo = createUsersRepo(db);
        const found = await findOrFail(repo, username);
        await repo.setPasswordHash(found.sub, await hashPassword(parsed.data));
        return found;
      });
      ctx.print(`password changed for ${user.username}`);
    });

  users
    .command('delete')
    .description('delete a user and their remembered consents')
    .argument('<username>')
    .action(async (username: string) => {
      const user = await ctx.withDb((db) => createUsersRepo(db).delete(username));
      if (!user) throw noSuchUser(username);
      ctx.print(`deleted ${user.username} (${user.sub})`);
    });
}
