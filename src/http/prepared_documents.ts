import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

// Discovery and the JWKS are the same bytes for every request until the provider is rebuilt (a
// key rotation or a config reload makes a new one: provider_host.ts). The first GET of each for
// a provider goes the whole way (security headers, the provider) and its answer is kept: status
// 200, the body as a Buffer, and the headers it carried. Every later GET or HEAD of that
// provider is answered from it in one write, with a strong ETag (If-None-Match → 304) and
// Cache-Control, and only the CORS header worked out per request (the provider echoes the
// Origin, or `*`). A new provider starts over; the kept answers of the old one are dropped with it.
//
// What the request did not get that the full path gives: nothing of the answer. Express's and
// Koa's per-request work (routing, Koa's context, the provider's CORS and discovery middleware,
// JSON.stringify of the document) is what is skipped; metrics and the request log run before
// this, as for every request.

export interface PreparedDocument {
  /** the request path, exactly */
  path: string;
  /** Cache-Control of the prepared answer */
  cacheControl: string;
}

interface Prepared {
  /** header names and values, CORS and the per-response ones left out */
  headers: Map<string, string | number | readonly string[]>;
  body: Buffer;
  etag: string;
}

// Headers that belong to one response, not to the document.
const PER_RESPONSE = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'access-control-allow-origin']);

function prepare(res: ServerResponse, body: Buffer, cacheControl: string): Prepared | undefined {
  const headers = new Map<string, string | number | readonly string[]>();
  for (const [name, value] of Object.entries(res.getHeaders())) {
    // A cookie would be one visitor's: such an answer is never replayed to another.
    if (name === 'set-cookie') return undefined;
    if (!PER_RESPONSE.has(name) && value !== undefined) headers.set(name, value);
  }
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  headers.set('etag', etag);
  headers.set('cache-control', cacheControl);
  return { headers, body, etag };
}

/** Whether `If-None-Match` names `etag` (a list, possibly weak, or `*`: RFC 9110 13.1.2). */
function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function send(req: IncomingMessage, res: ServerResponse, prepared: Prepared): void {
  const origin = req.headers.origin;
  res.setHeaders(prepared.headers);
  res.setHeader('access-control-allow-origin', typeof origin === 'string' && origin ? origin : '*');
  if (notModified(req.headers['if-none-match'], prepared.etag)) {
    res.statusCode = 304;
    res.removeHeader('content-type');
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-length', prepared.body.length);
  res.end(req.method === 'HEAD' ? undefined : prepared.body);
}

/**
 * Middleware answering `documents` from their kept answers; `owner()` is what they were made by
 * (the provider's runtime): a different one starts over.
 */
export function preparedDocuments(documents: readonly PreparedDocument[], owner: () => object): RequestHandler {
  const byPath = new Map(documents.map((d) => [d.path, d]));
  const kept = new WeakMap<object, Map<string, Prepared>>();

  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    const document = byPath.get(req.path);
    if (!document || req.url !== req.path) {
      next();
      return;
    }
    const madeBy = owner();
    let answers = kept.get(madeBy);
    if (!answers) {
      answers = new Map();
      kept.set(madeBy, answers);
    }
    const prepared = answers.get(document.path);
    if (prepared) {
      send(req, res, prepared);
      return;
    }
    if (req.method === 'GET')
      keepAnswer(res, (body) => {
        const made = res.statusCode === 200 ? prepare(res, body, document.cacheControl) : undefined;
        if (made) answers.set(document.path, made);
        return made;
      });
    next();
  };
}

/**
 * Calls `keep` with the body of `res` when it ends in one piece (how Koa answers a JSON body);
 * the answer kept, this response carries its ETag and Cache-Control too.
 */
function keepAnswer(res: ServerResponse, keep: (body: Buffer) => Prepared | undefined): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let written = false;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((...args: unknown[]) => {
    written = true;
    return write(...args);
  }) as typeof res.write;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if (!written && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
      const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      // Before the answer leaves, so that the same headers are read as are sent.
      const made = keep(body);
      if (made && !res.headersSent) {
        res.setHeader('etag', made.etag);
        res.setHeader('cache-control', made.headers.get('cache-control') as string);
      }
    }
    return end(...args);
  }) as typeof res.end;
}
