import type { Db } from '../db/db.js';
import { createLogger } from '../core/log.js';
import { createAuditLog, type AuditEvent } from '../audit/audit_log.js';
import type { CliContext } from './cli_context.js';

// Admin actions are audit events like the users' own, with actor `cli`. Only the row is
// written: stdout is the command's output (scripts read `users add`'s sub from it), so the
// audit log line is not printed; a row that cannot be written is reported on stderr.

export async function auditCliAction(ctx: Pick<CliContext, 'io'>, db: Db, { details, ...event }: AuditEvent): Promise<void> {
  const audit = createAuditLog({ db, log: createLogger('error', ctx.io.stderr as NodeJS.WritableStream) });
  await audit.record({ ...event, details: { actor: 'cli', ...details } });
}
