import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { withHeldWrites } from '../db/held_writes.js';

// Our pages' writes (an interaction step's result, its audit row) are held and sent as one
// statement when the page answers, before the answer leaves (db/held_writes.ts): the answer's
// `res.end` waits for them. A failed send turns the answer into the error page (`onError`, the
// app's last handler): a person never sees a success whose writes were lost. An answer already
// on its way (streamed before it ended) is cut off instead.

// What a page's answer may carry that must not survive into the error page.
const ANSWER_HEADERS = ['location', 'content-type', 'content-length', 'etag', 'set-cookie', 'refresh'];

export function holdWritesUntilResponse(onError: ErrorRequestHandler): RequestHandler {
  return (req, res, next) => {
    withHeldWrites((hold) => {
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      res.end = ((...args: unknown[]) => {
        res.end = end as Response['end'];
        if (hold.empty) {
          // Nothing held: the answer goes as it would have (and nothing is held from now on).
          void hold.close();
          return end(...args);
        }
        // While the writes are under way the answer is not sent, by this call or another.
        res.end = (() => res) as Response['end'];
        hold.close().then(
          () => {
            res.end = end as Response['end'];
            end(...args);
          },
          (error: unknown) => {
            res.end = end as Response['end'];
            if (res.headersSent) {
              res.destroy(error as Error);
              return;
            }
            for (const name of ANSWER_HEADERS) res.removeHeader(name);
            onError(error, req, res, () => undefined);
          },
        );
        return res;
      }) as Response['end'];
      next();
    });
  };
}
