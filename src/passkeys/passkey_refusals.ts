import type { RefusalReason } from './passkey_ceremonies.js';
import { t } from '../i18n/page_language.js';

// What a person is told when a passkey is refused (shown by views/static/passkeys.js), in the
// page's language: locales/*.json `passkey_refusal.<reason>`.
export const passkeyRefusalMessage = (reason: RefusalReason): string => t(`passkey_refusal.${reason}`);
