import type { Response } from 'express';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { PasskeysRepo } from '../storage/passkeys_repo.js';
import { amrOf, cleanPasskeyName, type PasskeyCeremonies } from '../passkeys/passkey_ceremonies.js';
import { passkeyRefusalMessage } from '../passkeys/passkey_refusals.js';
import type { Actor } from './account_actions.js';

// Passkeys on /account: adding one (two script requests: options, then the authenticator's
// response with the name typed for it), renaming and removing (plain forms). All of it scoped to
// the signed-in account and audited.

export interface PasskeyActionsDeps {
  users: Pick<UsersRepo, 'findBySub'>;
  passkeys: PasskeyCeremonies;
  passkeysRepo: PasskeysRepo;
  audit: Pick<AuditLog, 'record'>;
}

const jsonRefusal = (res: Response, status: number, reason: string, message: string) => res.status(status).json({ error: 'passkey_refused', reason, message });

export function createPasskeyActions({ users, passkeys, passkeysRepo, audit }: PasskeyActionsDeps) {
  return {
    async options(res: Response, actor: Actor, sessionUid: string): Promise<void> {
      const user = await users.findBySub(actor.accountId);
      if (!user || user.disabled) return void jsonRefusal(res, 403, 'disabled', 'This account is disabled or no longer exists.');
      res.json(await passkeys.registrationOptions(user, sessionUid));
    },

    async register(res: Response, actor: Actor, sessionUid: string, body: Record<string, unknown>): Promise<void> {
      const name = cleanPasskeyName(body.name);
      if (!name) return void jsonRefusal(res, 400, 'bad_name', 'Give the passkey a name of at most 64 characters.');
      const result = await passkeys.register(actor.accountId, sessionUid, body.response, name);
      if (!result.ok) {
        await audit.record({ event: 'passkey.failed', ...actor, details: { reason: result.reason, step: 'register' } });
        return void jsonRefusal(res, 400, result.reason, passkeyRefusalMessage(result.reason));
      }
      await audit.record({ event: 'passkey.enrolled', ...actor, details: { passkey: result.passkey.id, name, amr: amrOf(result.passkey) } });
      res.json({ redirect: '/account?done=passkey-added' });
    },

    /** false: no such passkey of this account */
    async rename(actor: Actor, id: string, name: string): Promise<boolean> {
      if (!(await passkeysRepo.rename(actor.accountId, id, name))) return false;
      await audit.record({ event: 'passkey.renamed', ...actor, details: { passkey: id, name } });
      return true;
    },

    async remove(actor: Actor, id: string): Promise<boolean> {
      const passkey = (await passkeysRepo.list(actor.accountId)).find((p) => p.id === id);
      if (!passkey || !(await passkeysRepo.remove(actor.accountId, id))) return false;
      await audit.record({ event: 'passkey.removed', ...actor, details: { passkey: id, name: passkey.name } });
      return true;
    },
  };
}
