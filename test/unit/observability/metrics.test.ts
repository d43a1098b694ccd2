import { describe, expect, it } from 'vitest';
import { routeLabel } from '../../../src/observability/metrics.js';

describe('routeLabel', () => {
  it.each([
    ['/.well-known/openid-configuration', 'discovery'],
    ['/jwks', 'jwks'],
    ['/auth', 'authorization'],
    ['/auth/Zx81abc', 'authorization'],
    ['/token', 'token'],
    ['/token/introspection', 'introspection'],
    ['/token/revocation', 'revocation'],
    ['/me', 'userinfo'],
    ['/session/end', 'end_session'],
    ['/session/end/confirm', 'end_session'],
    ['/interaction/uid-123', 'interaction'],
    ['/interaction/uid-123/login', 'interaction_login'],
    ['/interaction/uid-123/confirm', 'interaction_consent'],
    ['/interaction/uid-123/abort', 'interaction_abort'],
    ['/healthz', 'healthz'],
    ['/readyz', 'readyz'],
    ['/metrics', 'metrics'],
    ['/static/app.css', 'static'],
    ['/', 'home'],
  ])('labels %s as %s', (path, label) => {
    expect(routeLabel(path)).toBe(label);
  });

  it('never turns an id or an unknown path into a label of its own', () => {
    for (const path of ['/interaction/a/b/login', '/authorize', '/tokens', '/token/other', '/jwks/1', '/mee', '/nope', '/healthz/', '']) {
      expect(routeLabel(path), path).toBe('other');
    }
  });
});
