import Provider from 'oidc-provider';
import { hashId } from './storage_key.js';

// Device codes (RFC 8628) are bearer values stored as a SHA-256 like every token. Two things the
// device flow needs that a plain hashed row cannot give:
//
// - /device finds a code by its user code, and the library then saves it again (aborted, in
//   flight, approved) by its id, which the row does not hold. The row found that way comes back
//   with a handle in place of the id: `~` and the row's key. The library saves through it and
//   passes it on to the sign-in's interaction, whose resume route loads the code with it. A
//   handle is honoured only on those two routes: anyone who read the row's key from the database
//   must not be able to present it at the token endpoint as if it were the device code.
// - RFC 8628 3.5: a device polling with an expired code must hear `expired_token`, and a person
//   typing an expired user code should hear that it expired, not that it is wrong. The row
//   outlives the code by EXPIRED_KEPT_SECONDS so the library can still find it and say so (its
//   own `exp` says it is expired; the sweep deletes the row after that).

const HANDLE = '~';
const HANDLE_ROUTES = new Set(['code_verification', 'device_resume']);
export const DEVICE_CODE_MODEL = 'DeviceCode';
export const EXPIRED_KEPT_SECONDS = 600;

/** The id to give the library for a device-code row found by its user code. */
export function deviceCodeHandle(rowKey: string): string {
  return `${HANDLE}${rowKey}`;
}

/** The row key of a device code id or handle. */
export function deviceCodeKey(id: string): string {
  const route = (Provider as unknown as { ctx?: { oidc?: { route?: string } } }).ctx?.oidc?.route;
  if (id.startsWith(HANDLE) && route !== undefined && HANDLE_ROUTES.has(route)) return id.slice(HANDLE.length);
  return hashId(id);
}
