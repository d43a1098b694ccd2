import { randomBytes } from 'node:crypto';
import type { Db } from '../db/db.js';
import { expectRow } from '../db/expect_row.js';

// Secrets every instance (and the CLI) on one database must share, kept in `server_secrets`
// (migrations/0009). The first process to need one creates it; a process racing it keeps the
// row that won, so all agree. Unlike the cookie and signing keys these never rotate: what they
// key (throttle rows) lives for minutes, and rotating would only reset the counts.

export type ServerSecretName = 'throttle_keys' | 'mfa_encryption' | 'recovery_codes';

export async function loadServerSecret(db: Pick<Db, 'query'>, name: ServerSecretName): Promise<Buffer> {
  await db.query('INSERT INTO server_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32)]);
  const { rows } = await db.query<{ secret: Buffer }>('SELECT secret FROM server_secrets WHERE name = $1', [name]);
  return expectRow(rows, 'SELECT secret FROM server_secrets').secret;
}
