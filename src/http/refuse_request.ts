import type { NextFunction, Request, Response } from 'express';

// How a check in front of the provider refuses a request: the JSON error a client expects, or
// (for a browser, the same choice the provider makes) the error page, with the same code.

export interface Refusal {
  status: number;
  error: string;
  description: string;
  retryAfterSeconds?: number;
}

export function refuseRequest(req: Request, res: Response, next: NextFunction, refusal: Refusal): void {
  if (refusal.retryAfterSeconds !== undefined) res.set('retry-after', String(refusal.retryAfterSeconds));
  res.set('cache-control', 'no-store');
  if (req.accepts(['json', 'html']) === 'html') {
    next(Object.assign(new Error(refusal.description), { status: refusal.status, error: refusal.error, error_description: refusal.description, expose: true }));
    return;
  }
  res.status(refusal.status).json({ error: refusal.error, error_description: refusal.description });
}
