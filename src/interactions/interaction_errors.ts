import { errors } from 'oidc-provider';

/** A request to an interaction step that does not match the prompt the provider is at. */
export class WrongPrompt extends errors.InvalidRequest {
  constructor() {
    super('this step of the sign-in does not apply right now; go back to the application and start again');
  }
}
