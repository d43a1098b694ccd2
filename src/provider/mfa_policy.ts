import { interactionPolicy, type Client, type KoaContextWithOIDC } from 'oidc-provider';

// When a sign-in must use a second factor, and the login prompt that enforces it.
//
// ACR values (discovery's acr_values_supported): `pwd` for a password alone, `mfa` when a second
// factor was used too. A request demands `mfa` with `acr_values` naming `mfa` and not `pwd`
// (acr_values lists what is acceptable), with an essential `acr` claim whose value(s) are only
// `mfa` (the library's own essential_acr checks prompt for those), or by coming from a client
// registered with `require_mfa: true`. A session that signed in with a password alone then gets
// the login prompt again, and the interaction asks only for the second factor (step-up).
//
// The library's own essential_acr(s) checks are replaced by this one: they re-prompt until the
// session's acr is exactly one requested, so a request for `pwd` from a user who must use their
// second factor would loop forever. Here `mfa` satisfies a request for `pwd` (it is stronger), and
// values Gatehouse never issues are not demanded.

export const ACR_PASSWORD = 'pwd';
export const ACR_MFA = 'mfa';
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA];

/** The check's name: an interaction's prompt.reasons lists it when it fired. */
const MFA_REQUIRED_REASON = 'mfa_required';
/** Reasons of a login prompt that a second factor alone satisfies (no password asked again). */
export const SECOND_FACTOR_REASONS: ReadonlySet<string> = new Set([MFA_REQUIRED_REASON]);

function demandsMfaByAcr(values: readonly unknown[]): boolean {
  return values.includes(ACR_MFA) && !values.includes(ACR_PASSWORD);
}

function parseClaims(raw: unknown): { id_token?: { acr?: { essential?: boolean; value?: unknown; values?: unknown } } } | undefined {
  if (typeof raw === 'object' && raw !== null) return raw;
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw) as never;
  } catch {
    return undefined;
  }
}

function clientRequiresMfa(client: Client | undefined): boolean {
  return (client as unknown as { require_mfa?: boolean } | undefined)?.require_mfa === true;
}

/** Whether this authorization request (its params, its client) demands a second factor. */
export function mfaDemanded(params: Record<string, unknown>, client: Client | undefined): boolean {
  if (clientRequiresMfa(client)) return true;
  if (typeof params.acr_values === 'string' && demandsMfaByAcr(params.acr_values.split(' '))) return true;
  const acr = parseClaims(params.claims)?.id_token?.acr;
  if (acr?.essential === true) {
    if (acr.value === ACR_MFA) return true;
    if (Array.isArray(acr.values) && demandsMfaByAcr(acr.values)) return true;
  }
  return false;
}

/** The library's default prompts, the login one with our check added. */
export function createInteractionPolicy(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  if (!login) throw new Error('oidc-provider has no login prompt');
  login.checks.remove('essential_acr');
  login.checks.remove('essential_acrs');
  login.checks.add(
    new interactionPolicy.Check(MFA_REQUIRED_REASON, 'a second factor is required', (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (!mfaDemanded(oidc.params as Record<string, unknown>, oidc.client)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return oidc.acr === ACR_MFA ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
