import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { ConfigError } from '../../src/config/format_issues.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';

// METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <token>`. Metrics name
// clients, traffic and lockouts; a scraper that reaches the port without the token gets 401.

const TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics with METRICS_TOKEN', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(() => gh?.close());

  const scrape = (authorization?: string) => fetch(`${gh.issuer}/metrics`, { headers: authorization ? { authorization } : {} });

  it('refuses a scrape without the token, or with a wrong one, with 401 and no metrics', async () => {
    for (const authorization of [
      undefined,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
      TOKEN,
      'Bearer ',
    ]) {
      const response = await scrape(authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.text()).not.toContain('gatehouse_');
    }
  });

  it('serves the metrics to the bearer of the token', async () => {
    const response = await scrape(`Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('gatehouse_sign_ins_total');
  });

  it('refuses a token too short to be a secret at start-up', () => {
    expect(() => loadEnv({ METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(loadEnv({ METRICS_TOKEN: '' }).metricsToken).toBeUndefined();
  });
});
