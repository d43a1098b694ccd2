import type { Db } from '../db/db.js';
import { createAccountSessions } from '../storage/account_sessions.js';
import { storeLogoutNotices } from '../storage/logout_notices.js';

// What `users disable|delete` and `sessions revoke <username>` do to a user's sign-ins: every
// session ends and every grant (with its tokens) is revoked. The CLI cannot sign logout
// tokens, so the back-channel notices owed are queued for the running server to send.

export interface Ended {
  sessions: number;
  grants: number;
  notices: number;
}

export async function endAllSignIns(db: Db, accountId: string): Promise<Ended> {
  const { ended, revoked, notices } = await createAccountSessions(db).endEverything(accountId);
  await storeLogoutNotices(db, notices);
  return { sessions: ended, grants: revoked, notices: notices.length };
}

export function describeEnded({ sessions, grants, notices }: Ended): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(sessions, 'session')} ended, ${plural(grants, 'grant')} revoked, ${plural(notices, 'back-channel logout')} queued`;
}
