import { setTimeout as sleep } from 'node:timers/promises';
import { Secret, TOTP } from 'otpauth';
import { createSecondFactors, type SecondFactors } from '../../src/mfa/second_factors.js';
import { loadSecretBox } from '../../src/mfa/secret_box.js';
import type { RunningGatehouse } from './start_gatehouse.js';

// Second factors in tests: codes computed here with otpauth, as an authenticator app would.
// A TOTP code is accepted once per 30-second step and only for a step later than the last one
// accepted, so each use in a test asks for a code `offset` steps from now, increasing across
// uses (set-up -1, sign-in 0, the next +1): each stays within the ±1 step the server allows.
// A code for the previous step (-1) stops being accepted when the current step ends: where one
// travels through HTTP or a browser before it is checked, `awayFromStepEnd` first makes sure
// that is not about to happen. A code meant to be presented twice is computed once and kept.

export const TOTP_PERIOD_MS = 30_000;

export function totpCode(secret: string, offsetSteps = 0, at = Date.now()): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret.replace(/\s/g, '')), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: at + offsetSteps * TOTP_PERIOD_MS });
}

/** Resolves at once if at least `ms` of the current 30-second step remain, else once the next step has begun. */
export async function awayFromStepEnd(ms = 5_000): Promise<void> {
  const left = TOTP_PERIOD_MS - (Date.now() % TOTP_PERIOD_MS);
  if (left < ms) await sleep(left + 50);
}

/** The server's second factors, through its database (the database's own sealing key). */
export async function secondFactorsOf(gh: Pick<RunningGatehouse, 'testDb'>): Promise<SecondFactors> {
  return createSecondFactors(gh.testDb.db, await loadSecretBox(gh.testDb.db, { previous: [] }), 'test');
}

/** Sets up an authenticator app for the user, confirmed with the previous step's code; returns its secret. */
export async function enrolTotp(gh: Pick<RunningGatehouse, 'testDb'>, sub: string): Promise<string> {
  const mfa = await secondFactorsOf(gh);
  const setup = await mfa.startTotp(sub, 'test');
  if (!setup) throw new Error('an authenticator app is already set up');
  await awayFromStepEnd(1_000);
  if (!(await mfa.confirmTotp(sub, totpCode(setup.secret, -1)))) throw new Error('the set-up code was refused');
  return setup.secret;
}
