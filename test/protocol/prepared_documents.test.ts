import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { rotateKeys } from '../../src/keys/key_store.js';

// Discovery and the JWKS are answered from the provider's first answer (http/prepared_documents.ts):
// the same bytes and headers as the full path gave, plus a strong ETag (If-None-Match → 304) and
// Cache-Control; CORS worked out per request; a new provider (a key rotation) answers anew.

let gh: RunningGatehouse;
beforeAll(async () => {
  gh = await startGatehouse();
});
afterAll(() => gh?.close());

const PATHS = ['/.well-known/openid-configuration', '/jwks'];
const PER_RESPONSE = new Set(['date', 'connection', 'keep-alive', 'access-control-allow-origin']);
const headersOf = (res: Response) => Object.fromEntries([...res.headers].filter(([name]) => !PER_RESPONSE.has(name)));

describe('discovery and JWKS', () => {
  it.each(PATHS)('%s: later answers are the first one, byte for byte and header for header, with the security headers', async (path) => {
    const first = await fetch(`${gh.issuer}${path}`);
    const firstBody = await first.text();
    for (let i = 0; i < 3; i++) {
      const again = await fetch(`${gh.issuer}${path}`);
      expect(await again.text()).toBe(firstBody);
      expect(headersOf(again)).toEqual(headersOf(first));
    }
    expect(first.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(first.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(first.headers.get('x-frame-options')).toBe('DENY');
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    expect(first.headers.get('content-type')).toMatch(/json/);
    expect(first.headers.get('vary')).toBe('Origin');
    expect(JSON.parse(firstBody)).toBeTypeOf('object');
  });

  it.each(PATHS)('%s: If-None-Match with the ETag gets 304 and no body; another tag the document', async (path) => {
    const etag = (await fetch(`${gh.issuer}${path}`)).headers.get('etag')!;
    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await fetch(`${gh.issuer}${path}`, { headers: { 'if-none-match': tag } });
      expect(res.status).toBe(304);
      expect(await res.text()).toBe('');
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toMatch(/^public/);
    }
    const other = await fetch(`${gh.issuer}${path}`, { headers: { 'if-none-match': '"not-it"' } });
    expect(other.status).toBe(200);
    expect((await other.text()).length).toBeGreaterThan(0);
  });

  it('echoes the Origin in CORS per request, `*` without one, and answers HEAD without a body', async () => {
    await fetch(`${gh.issuer}/jwks`);
    const a = await fetch(`${gh.issuer}/jwks`, { headers: { origin: 'https://a.example' } });
    const b = await fetch(`${gh.issuer}/jwks`, { headers: { origin: 'https://b.example' } });
    const none = await fetch(`${gh.issuer}/jwks`);
    expect(a.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(b.headers.get('access-control-allow-origin')).toBe('https://b.example');
    expect(none.headers.get('access-control-allow-origin')).toBe('*');
    const head = await fetch(`${gh.issuer}/jwks`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe((await none.text()).length);
    expect(await head.text()).toBe('');
  });

  it('publishes a rotated key at once after the keys are re-read: a new JWKS and a new ETag', async () => {
    const before = await fetch(`${gh.issuer}/jwks`);
    const beforeKids = ((await before.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const { kids } = await rotateKeys(gh.testDb.db, 3600);
    expect(await gh.gatehouse.host.refreshKeys()).toBe(true);
    const after = await fetch(`${gh.issuer}/jwks`, { headers: { 'if-none-match': before.headers.get('etag')! } });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
    const afterKids = ((await after.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    expect(afterKids).toEqual(expect.arrayContaining(beforeKids));
    expect(kids.some((kid) => afterKids.includes(kid))).toBe(true);
  });
});
