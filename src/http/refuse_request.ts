import type { NextFunction, Request, Response } from 'express';
import { GatehouseError } from '../core/errors.js';
import { setRetryAfter } from './retry_after.js';

// How a check in front of the provider refuses a request: the JSON error a client expects, or
// (for a browser, the same choice the provider makes) the error page, with the same code.

export interface Refusal {
  status: number;
  error: string;
  description: string;
  retryAfterSeconds?: number;
}

/** A refusal on its way to the error page (which sets its Retry-After). */
export class RequestRefused extends GatehouseError {
  constructor({ status, error, description, retryAfterSeconds }: Refusal) {
    super('ERR_REQUEST_REFUSED', description, { status, error, description, retryAfterSeconds });
  }
}

export function refuseRequest(req: Request, res: Response, next: NextFunction, refusal: Refusal): void {
  res.set('cache-control', 'no-store');
  if (req.accepts(['json', 'html']) === 'html') {
    next(new RequestRefused(refusal));
    return;
  }
  if (refusal.retryAfterSeconds !== undefined) setRetryAfter(res, refusal.retryAfterSeconds);
  res.status(refusal.status).json({ error: refusal.error, error_description: refusal.description });
}
