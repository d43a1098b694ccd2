import type { Response } from 'express';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

// What provider.interactionFinished does, on the interaction this request has already read
// (interactionDetails): the library's call reads the interaction, and its session, a second
// time only to set the result and save it. The checks that read made (the interaction cookie,
// the uid) are the ones interactionDetails made for this request.

/** Saves `result` on the interaction and sends the browser back to the provider (303). */
export async function finishInteraction(
  res: Response,
  details: Details,
  result: InteractionResults,
  { mergeWithLastSubmission }: { mergeWithLastSubmission: boolean },
): Promise<void> {
  details.result = mergeWithLastSubmission && !('error' in result) ? { ...details.lastSubmission, ...result } : result;
  await details.save(details.exp - Math.floor(Date.now() / 1000));
  res.status(303).set('location', details.returnTo).set('content-length', '0').end();
}
