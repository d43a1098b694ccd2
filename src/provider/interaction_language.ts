import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { useUiLocales } from '../i18n/page_language.js';

// Hosted pages follow the authorization request's `ui_locales` (then Accept-Language). Every
// interaction page looks its interaction up through interactionDetails: that is where the
// request's parameters become known, so the language is taken there, once for all the pages
// (login, second factor, consent, registration, upstream link, …).

export function speakInteractionLanguage(provider: Provider): void {
  const details = provider.interactionDetails.bind(provider);
  provider.interactionDetails = async (req, res) => {
    const found = await details(req, res);
    useUiLocales(found.params.ui_locales);
    return found;
  };
}

/** The provider's own pages (errors, sign-out): the request's `ui_locales`, when it has one. */
export function speakRequestLanguage(ctx: KoaContextWithOIDC): void {
  useUiLocales((ctx.oidc as { params?: { ui_locales?: unknown } } | undefined)?.params?.ui_locales);
}
