import express from 'express';
import request from 'supertest';
import { errors } from 'oidc-provider';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorPage } from '../../../src/app/error_page.js';
import type { RenderPage } from '../../../src/pages/render_page.js';
import { RETRY_AFTER_SECONDS } from '../../../src/core/database_unavailable.js';
import { RequestRefused } from '../../../src/http/refuse_request.js';
import { RequestTooLarge } from '../../../src/http/provider_body_limit.js';
import { FormExpired } from '../../../src/http/csrf.js';
import { WrongPrompt } from '../../../src/interactions/interaction_errors.js';
import { ConfigError } from '../../../src/config/format_issues.js';
import { CliError } from '../../../src/cli/cli_errors.js';

// The error page on a bare Express app: a route that fails with the given error, a render
// function that prints the locals it was given, and a logger that records which level was used.

interface Logged {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
}

const printLocals: RenderPage = (view, locals) => Promise.resolve(JSON.stringify({ view, ...locals }));
const failToRender: RenderPage = () => Promise.reject(new Error('views are missing'));

function appFailingWith(error: unknown, render = printLocals) {
  const logged: Logged[] = [];
  const record = (level: Logged['level']) => (fields: Record<string, unknown>) => logged.push({ level, fields });
  const log = { info: record('info'), warn: record('warn'), error: record('error') } as unknown as Logger;
  const app = express();
  app.get('/fail', () => {
    throw error;
  });
  app.post('/form', express.urlencoded({ extended: false, limit: '1kb' }), (_req, res) => {
    res.send('accepted');
  });
  app.use(errorPage(render, log));
  return { app, logged };
}

async function page(error: unknown) {
  const { app, logged } = appFailingWith(error);
  const res = await request(app).get('/fail');
  expect(res.type).toBe('text/html');
  const locals = JSON.parse(res.text) as { view: string; heading: string; message: string; code: string };
  expect(locals.view).toBe('error');
  return { res, locals, levels: logged.map((l) => l.level) };
}

describe('error page', () => {
  it('a database outage: 503 with Retry-After, "try again", a warning and no stack', async () => {
    const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { res, locals, levels } = await page(outage);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(locals.code).toBe('temporarily_unavailable');
    expect(locals.heading).toBe('Temporarily unavailable');
    expect(levels).toEqual(['warn']);
  });

  it('a refused request: its status, Retry-After and the reason a person may read', async () => {
    const refused = new RequestRefused({ status: 429, error: 'temporarily_unavailable', description: 'too many requests', retryAfterSeconds: 42 });
    const { res, locals, levels } = await page(refused);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('42');
    expect(locals.code).toBe('temporarily_unavailable');
    expect(locals.message).toContain('(too many requests)');
    expect(levels).toEqual(['info']);
  });

  it('an expired form: 403 "Form expired", no Retry-After', async () => {
    const { res, locals } = await page(new FormExpired());
    expect(res.status).toBe(403);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(locals).toMatchObject({ code: 'form_expired', heading: 'Form expired' });
  });

  it('a step of the sign-in that does not apply: 400 invalid_request saying what to do', async () => {
    const { res, locals } = await page(new WrongPrompt());
    expect(res.status).toBe(400);
    expect(locals.code).toBe('invalid_request');
    expect(locals.message).toContain('go back to the application and start again');
  });

  it('a body declared too large for the provider: 413 "Request too large"', async () => {
    const { res, locals } = await page(new RequestTooLarge());
    expect(res.status).toBe(413);
    expect(locals).toMatchObject({
      code: 'request_too_large',
      heading: 'Request too large',
      message: 'The form you sent is larger than this service accepts.',
    });
  });

  it("a hosted form over the body parser's limit: the same 413 page", async () => {
    const { app } = appFailingWith(undefined);
    const res = await request(app)
      .post('/form')
      .type('form')
      .send({ field: 'x'.repeat(4096) });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'request_too_large' });
  });

  it("oidc-provider's expired interaction: 400 'Sign-in expired'", async () => {
    const { res, locals } = await page(new errors.SessionNotFound('interaction session not found'));
    expect(res.status).toBe(400);
    expect(locals).toMatchObject({ code: 'session_not_found', heading: 'Sign-in expired' });
  });

  it("oidc-provider's protocol errors keep their status, code and description", async () => {
    const { res, locals } = await page(new errors.InvalidToken('the token has expired'));
    expect(res.status).toBe(401);
    expect(locals.code).toBe('invalid_token');
    expect(locals.message).toBe('invalid token provided');
  });

  it.each([
    ['an unknown error', new Error('password for gatehouse@db.internal is hunter2')],
    ['a configuration error', new ConfigError('environment', ['SECRET: hunter2 is too short'])],
    ['a command error', new CliError('no user named "hunter2"')],
    ['a thrown string', 'hunter2'],
  ])('%s: 500 server_error, logged as an error, its message never shown', async (_kind, error) => {
    const { res, locals, levels } = await page(error);
    expect(res.status).toBe(500);
    expect(locals.code).toBe('server_error');
    expect(res.text).not.toContain('hunter2');
    expect(levels).toEqual(['error']);
  });

  it('a page that cannot be drawn: 500 in plain text, the cause not shown', async () => {
    const { app } = appFailingWith(new FormExpired(), failToRender);
    const res = await request(app).get('/fail');
    expect(res.status).toBe(500);
    expect(res.type).toBe('text/plain');
    expect(res.text).toBe('server_error');
  });

  it('an outage whose page cannot be drawn still answers 503', async () => {
    const outage = Object.assign(new Error('Connection terminated unexpectedly'), {});
    const { app } = appFailingWith(outage, failToRender);
    const res = await request(app).get('/fail');
    expect(res.status).toBe(503);
    expect(res.text).toBe('temporarily_unavailable');
  });
});
