import fc from 'fast-check';

// Generators of hostile input for the fuzz suite: the strings, parameter lists, headers and
// bodies a careless or malicious client sends. Everything that goes on the wire is produced as
// raw text (or bytes), so invalid percent-encoding and invalid UTF-8 reach the server as sent.

/** How many runs each property gets: FUZZ_RUNS for a longer local run, else the CI budget. */
function fuzzRuns(ciDefault: number): number {
  const runs = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(runs) && runs > 0 ? runs : ciDefault;
}

/** fast-check options for every property: the run count, and FUZZ_SEED to replay a failure. */
export function fuzzOptions(ciDefault: number): { numRuns: number; seed?: number } {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: fuzzRuns(ciDefault), ...(Number.isInteger(seed) && process.env.FUZZ_SEED ? { seed } : {}) };
}

/** A per-test time limit that grows with FUZZ_RUNS (a budget of `msPerRun` for every run). */
export function fuzzTimeout(ciDefault: number, msPerRun: number): number {
  return Math.max(60_000, fuzzRuns(ciDefault) * msPerRun * 3);
}

// Text meant to break parsers, templates, logs and headers. None of it spells a stack-trace
// pattern (see safe_response.ts), so an echo of the input is never mistaken for a leak.
const NASTY = [
  '',
  ' ',
  '\0',
  'a\0b',
  '\r\n',
  '\r\nSet-Cookie: injected=1',
  '\r\nInjected: 1',
  '\n\nHTTP/1.1 200 OK',
  '\t',
  '\u0007\u001b[31m',
  '\u202e\u200b\ufeff',
  '\ud800',
  '\udfff\ud800',
  '💥',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' OR '1'='1' --",
  '${7*7}{{7*7}}<%= 7*7 %>',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x7fffffff',
  '[]',
  '{}',
  '{"a":',
  'true',
  'openid',
  'openid profile email offline_access things:read',
  'none',
  'consent login select_account',
  'S256',
  'plain',
];

/** Short strings that may be anything at all: NUL, control characters, lone surrogates, markup. */
export const shortText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), maxLength: 8 }) },
);

/**
 * shortText, or a long run. Runs stay under ~2 kB so a URL of a few of them stays under Node's
 * 16 kB limit on a request head (beyond it Node answers 431 and the application never sees the
 * request); values of 100 kB and more are sent in bodies (LONG_FORM, HUGE_FORM).
 */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: shortText },
  {
    weight: 1,
    // 100 to 700 bytes of one character: at most ~2 kB once percent-encoded.
    arbitrary: fc
      .tuple(fc.constantFrom('a', '%', '\0', 'é', '😀'), fc.integer({ min: 100, max: 700 }))
      .map(([c, bytes]) => c.repeat(Math.ceil(bytes / Buffer.byteLength(c)))),
  },
);

/** Every byte of the UTF-8 of `text` percent-encoded (a lone surrogate becomes U+FFFD). */
export function percentEncode(text: string | Uint8Array): string {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  let out = '';
  for (const byte of bytes) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const BAD_ESCAPES = ['%', '%z', '%zz', '%g0', '%%', '%%%', '%u0041', '%E2%82', '%C0%AF', '%ED%A0%80', '%FF%FE', '%00', '%0D%0A', '+', '=', '&', ';'];

/** One raw (already encoded) value: well-encoded hostile text, raw bytes, broken escapes, or a mix. */
export const rawValue: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: hostileText.map(percentEncode) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 12 }).map(percentEncode) },
      { weight: 2, arbitrary: fc.constantFrom(...BAD_ESCAPES) },
      { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$'()*,:@/?-]{0,12}$/) },
    ),
    { maxLength: 4 },
  )
  .map((parts) => parts.join(''));

const OAUTH_NAMES = [
  'client_id',
  'response_type',
  'scope',
  'redirect_uri',
  'state',
  'nonce',
  'prompt',
  'max_age',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
  'id_token_hint',
  'login_hint',
  'ui_locales',
  'claims',
  'resource',
  'acr_values',
  'response_mode',
  'registration',
  'display',
  'grant_type',
  'code',
  'refresh_token',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'token',
  'token_type_hint',
  'access_token',
  'post_logout_redirect_uri',
  'logout',
  'xsrf',
  'login',
  'password',
  'authorization_details',
  'dpop_jkt',
  'audience',
  'claims_locales',
  'id_token',
  'iss',
  'csrf',
  '_csrf',
];

/** A raw parameter name: an OAuth one, its array/object forms (`a[]`, `a[b]`), or junk. */
export const rawName: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...OAUTH_NAMES) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...OAUTH_NAMES), fc.constantFrom('[]', '[0]', '[b]', '[b][c]', '%5B%5D', '.x')).map(([n, s]) => n + s) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', '__proto__[polluted]', 'constructor[prototype][polluted]', 'a[__proto__][b]', 'hasOwnProperty') },
  { weight: 2, arbitrary: rawValue },
);

export type RawPair = [name: string, value: string | undefined];

/** A list of raw pairs; a value of `undefined` sends the bare name (`a&b=1`). Names repeat. */
function rawPairs(base: fc.Arbitrary<RawPair> = fc.tuple(rawName, fc.option(rawValue, { nil: undefined }))): fc.Arbitrary<RawPair[]> {
  return fc.array(base, { maxLength: 10 }).chain((pairs) =>
    pairs.length === 0
      ? fc.constant(pairs)
      : // Sometimes send one of the pairs again, with another value: duplicated parameters.
        fc.oneof(
          fc.constant(pairs),
          fc.tuple(fc.nat(pairs.length - 1), rawValue).map(([i, v]) => [...pairs, [pairs[i]![0], v] as RawPair]),
        ),
  );
}

/** Joins raw pairs into a query string or form body, sometimes with odd separators. */
function joinPairs(pairs: readonly RawPair[], separator = '&'): string {
  return pairs.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join(separator);
}

/** A query string (or form): raw pairs, odd separators, cut at 12 kB (see hostileText). */
export const rawQuery: fc.Arbitrary<string> = fc
  .tuple(rawPairs(), fc.constantFrom('&', '&', '&', '&&', ';'), fc.constantFrom('', '&', '='))
  .map(([pairs, sep, tail]) => urlQuery(joinPairs(pairs, sep) + tail));

/** A query string cut to 12 kB, so the request head stays under Node's 16 kB (see hostileText). */
export function urlQuery(query: string | readonly RawPair[]): string {
  return (typeof query === 'string' ? query : joinPairs(query)).slice(0, 12_000);
}

/** Header values Node's HTTP client can send (it refuses CR, LF and NUL): the rest of the mess. */
export function headerSafe(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

const b64 = (text: string | Uint8Array) => Buffer.from(text).toString('base64');
const b64url = (text: string | Uint8Array) => Buffer.from(text).toString('base64url');

/** A credential pair some client might send. */
export interface KnownClient {
  clientId: string;
  secret?: string;
}

/**
 * An Authorization header value, or none: junk Basic (bad base64, no colon, broken escapes),
 * Basic with a known client id and a wrong or the right secret, junk Bearer/DPoP, forged JWTs.
 */
export function authorizationHeader(clients: readonly KnownClient[], jwt: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  const known = fc.constantFrom(...clients);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Basic', 'Basic ', 'Bearer', 'Bearer ', 'DPoP ', 'Negotiate abc', 'basic Og==', 'Basic Og==', 'Basic ====') },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map((s) => `Basic ${headerSafe(s)}`) },
    { weight: 2, arbitrary: hostileText.map((s) => `Basic ${b64(s.replace(/:/g, ''))}`) }, // no colon
    { weight: 2, arbitrary: fc.tuple(rawValue, rawValue).map(([u, p]) => `Basic ${b64(`${u}:${p}`)}`) },
    { weight: 2, arbitrary: fc.tuple(known, hostileText).map(([c, s]) => `Basic ${b64(`${encodeURIComponent(c.clientId)}:${percentEncode(s)}`)}`) },
    { weight: 3, arbitrary: known.map((c) => `Basic ${b64(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.secret ?? '')}`)}`) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom('Bearer', 'DPoP', 'bearer', 'MAC'), fc.oneof(hostileText.map(headerSafe), jwt)).map(([s, t]) => `${s} ${t}`),
    },
    { weight: 1, arbitrary: fc.integer({ min: 2000, max: 8000 }).map((n) => `Bearer ${'A'.repeat(n)}`) },
  );
}

export interface JwtContext {
  issuer: string;
  clientIds: readonly string[];
  /** key ids the server publishes, so forged tokens can name a real one */
  kids: readonly string[];
  /** signs `header.payload` with a key the server does not trust, or a known client secret */
  sign: (input: string, alg: string) => string;
}

const TIMES = () => {
  const now = Math.floor(Date.now() / 1000);
  return fc.constantFrom(now, now - 3600, now + 3600, 0, -1, 2 ** 53, 1e308, '1700000000', null, 'soon');
};

/**
 * JWTs that look right and are wrong: plausible headers (real kids, alg none, HS256, RS256…),
 * plausible claims (this issuer, known client ids, odd times), and a signature that is junk,
 * empty, or made with a key the server does not accept; plus structurally broken ones.
 */
export function wrongJwt(ctx: JwtContext): fc.Arbitrary<string> {
  const header = fc.record(
    {
      alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'PS256', 'EdDSA', 'RSA-OAEP', 'dir', 'NONE', ''),
      typ: fc.constantFrom('JWT', 'at+jwt', 'dpop+jwt', 'oauth-authz-req+jwt', 'logout+jwt', 'JWE'),
      kid: fc.oneof(fc.constantFrom(...ctx.kids, 'no-such-kid'), shortText),
      jwk: fc.constant({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }),
      crit: fc.constant(['exp']),
      jku: fc.constantFrom('https://evil.example/jwks', `${ctx.issuer}/jwks`),
    },
    { requiredKeys: ['alg'] },
  );
  const claims = fc.record(
    {
      iss: fc.oneof(fc.constantFrom(ctx.issuer, ...ctx.clientIds, 'https://evil.example'), shortText),
      sub: fc.oneof(fc.constantFrom(...ctx.clientIds), shortText),
      aud: fc.oneof(fc.constantFrom(ctx.issuer, `${ctx.issuer}/token`, ...ctx.clientIds), fc.constant([ctx.issuer, 'x']), shortText),
      exp: TIMES(),
      iat: TIMES(),
      nbf: TIMES(),
      jti: shortText,
      sid: shortText,
      client_id: fc.constantFrom(...ctx.clientIds),
      redirect_uri: fc.constantFrom('https://evil.example/cb', 'http://127.0.0.1:9/callback'),
      response_type: fc.constantFrom('code', 'token', 'id_token'),
      scope: fc.constantFrom('openid', 'openid offline_access'),
      nonce: shortText,
      htm: fc.constantFrom('POST', 'GET'),
      htu: fc.constantFrom(`${ctx.issuer}/token`, `${ctx.issuer}/me`),
      request: fc.constant('eyJhbGciOiJub25lIn0.e30.'),
    },
    { requiredKeys: [] },
  );
  const signed = fc.tuple(header, claims, fc.constantFrom('junk', 'empty', 'signed', 'signed'), fc.base64String({ maxLength: 60 })).map(([h, c, how, junk]) => {
    const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(c))}`;
    if (how === 'empty') return `${input}.`;
    if (how === 'junk') return `${input}.${junk.replace(/=/g, '')}`;
    return `${input}.${ctx.sign(input, h.alg)}`;
  });
  const broken = fc.oneof(
    fc.constantFrom('a.b.c', '..', '.', 'e30.e30.', 'eyJhbGciOiJub25lIn0.e30.', 'eyJ.eyJ.eyJ', 'a.b.c.d.e', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln'),
    fc
      .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }))
      .map(([h, c]) => `${b64url(JSON.stringify(h) ?? '')}.${b64url(JSON.stringify(c) ?? '')}.x`),
    fc.array(fc.base64String({ maxLength: 20 }), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
  );
  return fc.oneof({ weight: 3, arbitrary: signed }, { weight: 1, arbitrary: broken });
}

/**
 * Where a redirect could be sent instead of `registered`: look-alikes (userinfo, other port,
 * other case, suffixes, encoded tricks), other sites, other schemes, and header-splitting tails.
 */
export function lookalikeUri(registered: readonly string[]): fc.Arbitrary<string> {
  const tricks = (uri: string) => {
    const u = new URL(uri);
    return [
      uri,
      `${uri}/`,
      `${uri}?x=1`,
      `${uri}#frag`,
      `${uri}/../../evil`,
      `${uri}%2F..%2Fevil`,
      `${uri}\r\nSet-Cookie: injected=1`,
      `${uri}%0d%0aInjected:%201`,
      ` ${uri}`,
      uri.toUpperCase(),
      `${u.protocol}//${u.host}@evil.example${u.pathname}`,
      `${u.protocol}//evil.example@${u.host}${u.pathname}`,
      `${u.protocol}//${u.hostname}.evil.example${u.pathname}`,
      `${u.protocol}//${u.hostname}:${Number(u.port || 80) + 1}${u.pathname}`,
      `${u.protocol === 'http:' ? 'https:' : 'http:'}//${u.host}${u.pathname}`,
      `${u.protocol}//${u.host}${u.pathname.toUpperCase()}`,
      `${u.protocol}\\\\evil.example${u.pathname}`,
      `${u.protocol}//${u.host}\\@evil.example${u.pathname}`,
    ];
  };
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...registered.flatMap(tricks)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'https://evil.example/',
        'http://evil.example/callback',
        '//evil.example/',
        '/\\evil.example',
        '\\\\evil.example',
        'javascript:alert(1)',
        'data:text/html,<script>alert(1)</script>',
        'about:blank',
        'http://localhost/',
        'http://[::1]/',
        'http://0x7f.1/',
        'urn:ietf:wg:oauth:2.0:oob',
        'com.example.app:/cb',
      ),
    },
    { weight: 1, arbitrary: hostileText },
  );
}

/** A body with (or without) a content type: forms, JSON, multipart, text, bytes, oversize. */
export interface RawBody {
  contentType: string | undefined;
  body: Buffer;
}

const FORM = 'application/x-www-form-urlencoded';

/** 1.1 MB of form: built once, so generating it costs nothing. */
const HUGE_FORM = Buffer.from(`a=${'x'.repeat(1_100_000)}`);
/** Over 100 kB in one value: longer than any endpoint accepts. */
const LONG_FORM = Buffer.from(`client_id=web&state=${'s'.repeat(120_000)}`);

export function rawBody(form: fc.Arbitrary<string> = rawQuery): fc.Arbitrary<RawBody> {
  const multipart = fc.tuple(rawName, hostileText).map(([name, value]) => ({
    contentType: 'multipart/form-data; boundary=XyZ',
    body: Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n--XyZ--\r\n`),
  }));
  return fc.oneof(
    { weight: 8, arbitrary: form.map((f) => ({ contentType: FORM, body: Buffer.from(f, 'latin1') })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(form, fc.constantFrom('; charset=utf-8', '; charset=latin1', '; charset=utf-16', '; charset=bogus', ';;;', '; charset="', 'x'))
        .map(([f, cs]) => ({ contentType: FORM + cs, body: Buffer.from(f, 'latin1') })),
    },
    { weight: 2, arbitrary: form.map((f) => ({ contentType: undefined, body: Buffer.from(f, 'latin1') })) },
    // Raw bytes inside a form, not percent-encoded: invalid UTF-8, NUL, CR/LF as they are.
    {
      weight: 2,
      arbitrary: fc.tuple(rawName, fc.uint8Array({ minLength: 1, maxLength: 30 }), form).map(([name, bytes, f]) => ({
        contentType: FORM,
        body: Buffer.concat([Buffer.from(`${name}=`, 'latin1'), Buffer.from(bytes), Buffer.from(`&${f}`, 'latin1')]),
      })),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((j) => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(j) ?? 'null') })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('{"a":', '[', '{"__proto__":{"polluted":1}}').map((j) => ({ contentType: 'application/json', body: Buffer.from(j) })),
    },
    { weight: 1, arbitrary: multipart },
    { weight: 1, arbitrary: hostileText.map((t) => ({ contentType: 'text/plain', body: Buffer.from(t) })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('application/octet-stream', 'application/xml', 'image/png', FORM, '', '*/*', 'x'), fc.uint8Array({ maxLength: 200 }))
        .map(([contentType, bytes]) => ({ contentType, body: Buffer.from(bytes) })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom({ contentType: FORM, body: HUGE_FORM }, { contentType: FORM, body: LONG_FORM }, { contentType: undefined, body: HUGE_FORM }),
    },
  );
}

/** A form body built from pairs (`FORM` content type). */
export function formBody(pairs: readonly RawPair[]): RawBody {
  return { contentType: FORM, body: Buffer.from(joinPairs(pairs), 'latin1') };
}

/** A Cookie header: none, a real session's, junk, or a real one with junk added or altered. */
export function cookieHeader(real: readonly string[]): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: real.length ? fc.constantFrom(...real) : fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('_session=junk; _session.sig=junk', '_interaction=x', '_session=', '=;=;', '_session.legacy=abc') },
    { weight: 1, arbitrary: hostileText.map(headerSafe) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(real.length ? fc.constantFrom(...real) : fc.constant(''), hostileText)
        .map(([cookie, junk]) => `${cookie.replace(/=[^;]{4}/, `=${headerSafe(junk)}`)}; ${headerSafe(junk)}=1`),
    },
  );
}

export const acceptHeader: fc.Arbitrary<string | undefined> = fc.constantFrom(
  undefined,
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'application/json',
  '*/*',
  'image/png',
  '',
);

/**
 * A `claims` parameter (JSON) holding what a database cannot store: lone surrogates and NUL as
 * JSON escapes (`\ud800`), in claim names and values. Percent-encoding cannot carry a lone
 * surrogate (it becomes U+FFFD); JSON can, and the provider parses it.
 */
export const unstorableClaims: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('\\ud800', '\\udfff', '\\udfff\\ud800', 'a\\ud83d', '\\u0000', 'x\\u0000y'),
    fc.constantFrom('id_token', 'userinfo'),
    fc.constantFrom('name', 'value', 'values'),
  )
  .map(([bad, member, where]) =>
    where === 'name'
      ? `{"${member}":{"${bad}":null}}`
      : where === 'value'
        ? `{"${member}":{"email":{"value":"${bad}"}}}`
        : `{"${member}":{"email":{"values":["ok","${bad}"]}}}`,
  );

/** A raw value a protocol parameter might plausibly hold, or not: JWTs, URIs, JSON, keywords, junk. */
export function oauthValue(jwt: fc.Arbitrary<string>, uris: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: rawValue },
    { weight: 1, arbitrary: unstorableClaims.map(percentEncode) },
    { weight: 2, arbitrary: jwt },
    { weight: 2, arbitrary: uris.map(percentEncode) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((j) => percentEncode(JSON.stringify(j) ?? '')) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'none',
        'login',
        'consent',
        'query',
        'fragment',
        'form_post',
        'jwt',
        'web_message',
        'code',
        'token',
        'id_token',
        'S256',
        'plain',
        '0',
        '-1',
        '99999999999999999999',
        'openid+offline_access',
        'things%3Aread',
        'https%3A%2F%2Fapi.example.test',
        'yes',
        'no',
      ),
    },
  );
}

/** `base` pairs (a request that would work) followed by random protocol pairs, some repeating a base name. */
export function extendPairs(base: fc.Arbitrary<RawPair[]>, value: fc.Arbitrary<string>): fc.Arbitrary<RawPair[]> {
  const extra = fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...OAUTH_NAMES) }, { weight: 1, arbitrary: rawName }),
    fc.option(value, { nil: undefined, freq: 8 }),
  );
  return fc.tuple(base, fc.array(extra, { maxLength: 6 }), fc.integer({ min: 0, max: 3 })).map(([b, extras, mode]) => {
    // Mostly new names, so the request gets past the duplicate-parameter check to deeper code.
    const names = new Set(b.map(([n]) => n));
    const added = mode === 0 ? extras : extras.filter(([n]) => !names.has(n));
    return mode === 1 ? [...added, ...b] : [...b, ...added];
  });
}
