import type http from 'node:http';
import request from 'supertest';
import type { RawBody } from './hostile_input.js';

// Sends one hostile request with supertest and checks the answer is a safe refusal (or a normal
// answer): no 5xx, no stack trace or source path, an answer within the deadline, no injected
// header, and no redirect (Location or auto-submitting form) anywhere but this issuer or an
// address a client registered.

/** A hang is any answer slower than this (the slowest honest answer is a throttled sign-in, ~2 s). */
const RESPONSE_DEADLINE_MS = 8_000;

export interface HostileRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  /** raw path and query, sent as they are */
  path: string;
  headers?: Record<string, string | undefined>;
  body?: RawBody;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Policy {
  issuer: string;
  /** every redirect_uri and post_logout_redirect_uri a client registered */
  registered: readonly string[];
}

const collectBytes = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
  stream.on('error', (err: Error) => done(err, Buffer.concat(chunks)));
};

function describe(req: HostileRequest): string {
  const body = req.body
    ? ` body(${req.body.contentType ?? 'no content-type'}, ${req.body.body.length} B): ${req.body.body.subarray(0, 300).toString('latin1')}`
    : '';
  return `${req.method} ${req.path.slice(0, 300)}${body}`;
}

/** Sends `req` to the listening `server`; a hang or a dropped connection is a failure. */
export async function send(server: http.Server, req: HostileRequest): Promise<Answer> {
  const agent = request(server);
  const method = req.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete' | 'patch' | 'options';
  const test = agent[method](req.path).timeout({ deadline: RESPONSE_DEADLINE_MS }).redirects(0).buffer(true).parse(collectBytes);
  for (const [name, value] of Object.entries(req.headers ?? {})) if (value !== undefined) test.set(name, value);
  if (req.body) {
    if (req.body.contentType !== undefined) test.set('content-type', req.body.contentType);
    // Sent byte for byte: superagent would otherwise re-serialise a form or JSON body.
    test.serialize((body: unknown) => body as string);
    test.send(req.body.body as unknown as string);
  }
  try {
    const res = await test;
    return { status: res.status, headers: res.headers, body: (res.body as Buffer).toString('utf8') };
  } catch (error) {
    const e = error as { timeout?: number; code?: string; message: string };
    if (e.timeout) throw new Error(`no answer within ${RESPONSE_DEADLINE_MS} ms (a hang) to ${describe(req)}`);
    throw new Error(`connection failed (${e.code ?? e.message}) for ${describe(req)}`);
  }
}

// What only a leaked exception prints: a stack frame, a source path with line:column, a
// node_modules path, a file URL, or a JavaScript error constructor's name and colon.
const STACK_TRACE =
  /\bat (?:async )?[\w$.<>[\]]+ \(|\n\s+at \S|(?:\/[\w.@-]+)+\.(?:js|ts|mjs|cjs):\d+|node_modules|file:\/\/\/|\b(?:Type|Reference|Syntax|Range|Database|Assertion)Error\b|\bError: [^<"]*\//;

function allowedTarget(target: string, policy: Policy, base: string): string | undefined {
  let url: URL;
  try {
    url = new URL(target, base);
  } catch {
    return `an unparseable redirect target ${JSON.stringify(target)}`;
  }
  if (url.origin === new URL(policy.issuer).origin) return undefined;
  const bare = `${url.origin}${url.pathname}`;
  if (policy.registered.some((r) => new URL(r).href === bare)) return undefined;
  return `a redirect to an unregistered address ${JSON.stringify(target)}`;
}

function decodeHtmlAttribute(value: string): string {
  return value.replace(/&(amp|quot|#39|#x27|lt|gt);/g, (_m, e: string) => ({ amp: '&', quot: '"', '#39': "'", '#x27': "'", lt: '<', gt: '>' })[e]!);
}

/** Everything wrong with `answer`, as sentences (empty when it is safe). */
function problemsWith(answer: Answer, policy: Policy): string[] {
  const problems: string[] = [];
  if (answer.status >= 500 || answer.status < 200) problems.push(`status ${answer.status}`);
  // Our own scripts (views/static, the WebAuthn bundle) name error types in their code: that is
  // source served on purpose, not an error leaking out.
  const script = answer.status === 200 && /^(text|application)\/javascript/.test(String(answer.headers['content-type'] ?? ''));
  if (!script && STACK_TRACE.test(answer.body)) problems.push(`a stack trace or source path in the body: ${answer.body.match(STACK_TRACE)![0]}`);
  for (const [name, value] of Object.entries(answer.headers)) {
    if (/injected/i.test(name) || /injected=/i.test(String(value))) problems.push(`an injected header ${name}: ${String(value)}`);
  }
  const location = answer.headers.location;
  if (answer.status >= 300 && answer.status < 400 && answer.status !== 304 && typeof location !== 'string') problems.push('a redirect without Location');
  if (typeof location === 'string') {
    const wrong = allowedTarget(location, policy, policy.issuer);
    if (wrong) problems.push(wrong);
  }
  // response_mode=form_post and the sign-out page send the browser on with a form.
  const contentType = String(answer.headers['content-type'] ?? '');
  if (contentType.startsWith('text/html')) {
    for (const [, action] of answer.body.matchAll(/<form\b[^>]*\baction="([^"]*)"/gi)) {
      const wrong = allowedTarget(decodeHtmlAttribute(action!), policy, policy.issuer);
      if (wrong) problems.push(`a form posting to it: ${wrong}`);
    }
  }
  if (answer.status >= 400) {
    if (contentType.startsWith('application/json')) {
      let error: unknown;
      try {
        error = (JSON.parse(answer.body) as { error?: unknown }).error;
      } catch {
        error = undefined;
      }
      if (typeof error !== 'string' || !/^[a-z_]+$/.test(error))
        problems.push(`a ${answer.status} JSON body without an OAuth error code: ${answer.body.slice(0, 200)}`);
    } else if (contentType.startsWith('text/html')) {
      if (!/<h1\b/.test(answer.body)) problems.push(`a ${answer.status} HTML page without a heading`);
    } else if (!(answer.status === 404 && answer.body === 'Not Found') && !(answer.status === 431 && answer.body === '')) {
      // (Node itself answers a request head over 16 kB with a bare 431: no application code runs.)
      problems.push(`a ${answer.status} answer that is neither an OAuth error nor an error page (${contentType}): ${answer.body.slice(0, 200)}`);
    }
  }
  return problems;
}

/** Sends `req` and fails (with the request and the answer) unless the answer is safe. */
export async function sendSafely(server: http.Server, req: HostileRequest, policy: Policy): Promise<Answer> {
  const answer = await send(server, req);
  const problems = problemsWith(answer, policy);
  if (problems.length) {
    throw new Error(
      `${problems.join('; ')}\n  request: ${describe(req)}\n  answer: ${answer.status} ${JSON.stringify(answer.headers.location ?? '')} ${answer.body.slice(0, 400)}`,
    );
  }
  return answer;
}
