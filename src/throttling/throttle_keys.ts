import { createHmac } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Db } from '../db/db.js';
import { loadServerSecret } from '../storage/server_secrets.js';

// The keys of the `login_limits` rows. What someone typed into the login field is keyed by an
// HMAC under a secret from the database (server_secrets.ts), never stored as typed nor as a bare
// SHA-256: people type passwords into the username field, and an unsalted hash of a guessable
// string is as good as the string to whoever reads the table. Every instance shares the secret,
// so they all count the same row. Rows keyed the old way (a SHA-256, before migration 0009) are
// no longer read and expire with their window.

/**
 * Whom an account counter is for: the account the login named (by its sub, however it was
 * typed: username or email, any case, any look-alike that the lookup folds to it), or, when it
 * names none, the login in the one canonical form the lookup compared (users_repo.ts).
 */
export type ThrottleSubject = { sub: string } | { login: string };

export interface ThrottleKeys {
  /** without the limiter's `account:` prefix */
  account(subject: ThrottleSubject): string;
  /** a registered client as seen from one source address, without the `client_ip:` prefix */
  clientSource(clientId: string, ip: string | undefined): string;
}

const MAX_REMEMBERED_CLIENT_KEYS = 10_000;

export function createThrottleKeys(secret: Buffer): ThrottleKeys {
  const mac = (text: string) => createHmac('sha256', secret).update(text).digest('base64url');
  // Every token, introspection and revocation request asks for its client's key: the few pairs
  // that call are remembered (a pure function of the pair; bounded, oldest dropped first).
  const clientKeys = new Map<string, string>();
  return {
    account: (subject) => mac('sub' in subject ? `sub\0${subject.sub}` : `login\0${subject.login}`),
    clientSource: (clientId, ip) => {
      const text = `client\0${clientId}\0${ipKey(ip)}`;
      let key = clientKeys.get(text);
      if (key === undefined) {
        key = mac(text);
        if (clientKeys.size >= MAX_REMEMBERED_CLIENT_KEYS) clientKeys.delete(clientKeys.keys().next().value as string);
        clientKeys.set(text, key);
      }
      return key;
    },
  };
}

export async function loadThrottleKeys(db: Pick<Db, 'query'>): Promise<ThrottleKeys> {
  return createThrottleKeys(await loadServerSecret(db, 'throttle_keys'));
}

/**
 * IPv4 addresses as they are; IPv6 by /64, the block one subscriber is given, or a single
 * client could walk through 2^64 addresses and never meet the limit. Addresses are not typed
 * by anyone, so they are kept readable (an operator can lift an address's lockout by hand).
 */
export function ipKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped !== undefined) return mapped;
  const [bare = ''] = ip.split('%');
  if (!isIPv6(bare)) return ip.slice(0, 64);
  const [head = '', tail] = bare.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groupCount = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const missing = tail === undefined ? 0 : 8 - groupCount(headGroups) - groupCount(tailGroups);
  const groups = [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
