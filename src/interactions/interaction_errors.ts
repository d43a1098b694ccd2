import { GatehouseError } from '../core/errors.js';
import { t } from '../i18n/page_language.js';

const DESCRIPTION = 'this step of the sign-in does not apply right now; go back to the application and start again';

/** A request to an interaction step that does not match the prompt the provider is at. */
export class WrongPrompt extends GatehouseError {
  constructor() {
    // The log says it in English; the page in the reader's language.
    super('ERR_WRONG_PROMPT', DESCRIPTION, { status: 400, error: 'invalid_request', description: t('errors.wrong_prompt') });
  }
}
