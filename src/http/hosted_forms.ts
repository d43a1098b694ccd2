import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

// The pieces every route of our own hosted pages uses (the interaction steps and /account);
// oidc-provider's routes parse their own bodies and set their own caching.

/** Pages that show a person's sign-in state are never cached. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('cache-control', 'no-store');
  next();
};

/** A hosted form's body: small, flat, a few fields. Bigger bodies get 413, more fields 413. */
export const hostedForm = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });

/** An async handler whose failures go to the error page. */
export const wrap =
  (fn: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req, res, next: NextFunction) => {
    fn(req, res).catch(next);
  };
