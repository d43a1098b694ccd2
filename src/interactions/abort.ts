import type { Request, Response } from 'express';
import type { Runtime } from '../provider/provider_host.js';
import type { Logger } from '../core/log.js';

// "Cancel" on the login page and "Deny" on the consent page: the client gets access_denied.
export function createAbort({ runtime, log }: { runtime: () => Pick<Runtime, 'provider'>; log: Logger }) {
  return async (req: Request, res: Response): Promise<void> => {
    const { provider } = runtime();
    const details = await provider.interactionDetails(req, res);
    log.info({ event: details.prompt.name === 'consent' ? 'consent.denied' : 'login.cancelled', client_id: details.params.client_id }, 'interaction aborted');
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
  };
}
