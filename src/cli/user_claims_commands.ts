import type { Command } from 'commander';
import { createUsersRepo, type ClaimsChange, type User } from '../accounts/users_repo.js';
import { claimNameProblem } from '../config/claim_names.js';
import { inOurWords } from '../config/issue_wording.js';
import { claimValueProblem, MAX_CLAIMS_BYTES, parseClaimValue, roleSchema, ROLES_CLAIM } from '../accounts/user_claims.js';
import type { Db } from '../db/db.js';
import type { CliContext } from './cli_context.js';
import { CliError } from './cli_errors.js';
import { auditCliAction } from './cli_audit.js';

// `gatehouse users show|set-claim|unset-claim|roles …`: a user's claims beyond the profile
// columns (user_claims.ts says which names and values are allowed). Each change is one SQL
// statement (users_repo.ts), audited with the claim's name and never its value; the next token
// or userinfo answer reads the new value (nothing caches a user between requests).

const noSuchUser = (username: string) => new CliError(`no user named "${username}"`);

function checkName(name: string): void {
  const problem = claimNameProblem(name);
  if (problem) throw new CliError(`invalid claim name: ${problem}`);
}

function checkRoles(roles: string[]): string[] {
  for (const role of roles) {
    const parsed = roleSchema.safeParse(role, { error: inOurWords });
    if (!parsed.success) throw new CliError(`invalid role "${role}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return [...new Set(roles)];
}

/** The changed user, or the CLI's message for why nothing changed. */
function changedUser(change: ClaimsChange, username: string): User {
  if (!change.found) throw noSuchUser(username);
  if (change.tooLarge) throw new CliError(`refused: ${username}'s claims would exceed ${MAX_CLAIMS_BYTES} bytes of JSON`);
  return change.user;
}

/** What `users show` prints: the user's claims and account state, never the password hash. */
function describeUser(user: User): Record<string, unknown> {
  return {
    sub: user.sub,
    username: user.username,
    email: user.email,
    email_verified: user.email_verified,
    name: user.name,
    given_name: user.given_name,
    family_name: user.family_name,
    claims: user.claims,
    disabled: user.disabled,
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
  };
}

export function registerUserClaimsCommands(users: Command, ctx: CliContext): void {
  async function change(username: string, apply: (db: Db) => Promise<ClaimsChange>, details: Record<string, unknown>): Promise<User> {
    return ctx.withDb(async (db) => {
      const user = changedUser(await apply(db), username);
      await auditCliAction(ctx, db, { event: 'user.claims_changed', accountId: user.sub, username: user.username, details });
      return user;
    });
  }

  users
    .command('show')
    .description("print a user's claims and account state as JSON (never the password hash)")
    .argument('<username>')
    .action(async (username: string) => {
      const user = await ctx.withDb((db) => createUsersRepo(db).findByUsername(username));
      if (!user) throw noSuchUser(username);
      ctx.print(JSON.stringify(describeUser(user), null, 2));
    });

  users
    .command('set-claim')
    .description('set a claim of a user; the value is JSON if it parses as JSON, else a string')
    .argument('<username>')
    .argument('<claim>', 'claim name, e.g. department')
    .argument('<value>', 'e.g. Sales, 42, true, \'["a","b"]\' or \'{"k":"v"}\'')
    .addHelpText('after', `\nExamples:\n  gatehouse users set-claim alice department Sales\n  gatehouse users set-claim alice employee_number '"0042"'`)
    .action(async (username: string, claim: string, text: string) => {
      checkName(claim);
      const value = parseClaimValue(text);
      const problem = claimValueProblem(claim, value);
      if (problem) throw new CliError(`invalid value for "${claim}": ${problem}`);
      const user = await change(username, (db) => createUsersRepo(db).setClaim(username, claim, value), { claim, change: 'set' });
      ctx.print(`${user.username}: ${claim} set`);
    });

  users
    .command('unset-claim')
    .description('remove a claim from a user')
    .argument('<username>')
    .argument('<claim>')
    .action(async (username: string, claim: string) => {
      const { user, removed } = await ctx.withDb(async (db) => {
        const result = await createUsersRepo(db).unsetClaim(username, claim);
        if (!result.user) throw noSuchUser(username);
        if (result.removed) {
          await auditCliAction(ctx, db, {
            event: 'user.claims_changed',
            accountId: result.user.sub,
            username: result.user.username,
            details: { claim, change: 'unset' },
          });
        }
        return { user: result.user, removed: result.removed };
      });
      ctx.print(removed ? `${user.username}: ${claim} removed` : `${user.username} had no claim ${claim}`);
    });

  const roles = users.command('roles').description(`manage a user's roles (the "${ROLES_CLAIM}" claim, an array of strings)`);
  roles
    .command('add')
    .description('give a user roles (ones already held stay once)')
    .argument('<username>')
    .argument('<roles...>')
    .action(async (username: string, names: string[]) => {
      const added = checkRoles(names);
      const user = await change(username, (db) => createUsersRepo(db).addRoles(username, added), { claim: ROLES_CLAIM, change: 'roles_added', roles: added });
      ctx.print(`${user.username} roles: ${describeRoles(user)}`);
    });
  roles
    .command('remove')
    .description('take roles from a user')
    .argument('<username>')
    .argument('<roles...>')
    .action(async (username: string, names: string[]) => {
      const removed = checkRoles(names);
      const user = await change(username, (db) => createUsersRepo(db).removeRoles(username, removed), {
        claim: ROLES_CLAIM,
        change: 'roles_removed',
        roles: removed,
      });
      ctx.print(`${user.username} roles: ${describeRoles(user)}`);
    });
}

function describeRoles(user: User): string {
  const held = user.claims[ROLES_CLAIM];
  return Array.isArray(held) && held.length ? held.join(' ') : '(none)';
}
