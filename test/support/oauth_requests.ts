// Raw OAuth requests to the token, introspection, revocation and userinfo endpoints, so tests
// see exactly the status and JSON body a client would (openid-client hides both behind errors).

export interface ClientCredentials {
  clientId: string;
  /** omit for a public client: it sends only its client_id */
  secret?: string;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface Endpoints {
  token: string;
  introspection: string;
  revocation: string;
  userinfo: string;
  jwks: string;
}

const discovered = new Map<string, Promise<Endpoints>>();

/** The endpoints as discovery names them (cached per issuer). */
export function endpoints(issuer: string): Promise<Endpoints> {
  let found = discovered.get(issuer);
  if (!found) {
    found = fetch(`${issuer}/.well-known/openid-configuration`)
      .then((r) => r.json() as Promise<Record<string, string>>)
      .then((d) => ({
        token: d.token_endpoint!,
        introspection: d.introspection_endpoint!,
        revocation: d.revocation_endpoint!,
        userinfo: d.userinfo_endpoint!,
        jwks: d.jwks_uri!,
      }));
    discovered.set(issuer, found);
  }
  return found;
}

/** HTTP Basic client authentication (RFC 6749 2.3.1: form-encode, then base64). */
export function basicAuth({ clientId, secret }: ClientCredentials): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret ?? '')}`).toString('base64')}`;
}

async function json(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { raw: text };
  }
  return { status: response.status, headers: response.headers, body };
}

/** POSTs a form as `client` (Basic auth when it has a secret, else client_id in the body). */
export async function postForm(url: string, client: ClientCredentials, form: Record<string, string>): Promise<JsonResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const fields = { ...form };
  if (client.secret !== undefined) headers.authorization = basicAuth(client);
  else fields.client_id = client.clientId;
  return json(await fetch(url, { method: 'POST', headers, body: new URLSearchParams(fields).toString() }));
}

export async function tokenRequest(issuer: string, client: ClientCredentials, form: Record<string, string>): Promise<JsonResponse> {
  return postForm((await endpoints(issuer)).token, client, form);
}

export async function introspect(issuer: string, client: ClientCredentials, token: string): Promise<JsonResponse> {
  return postForm((await endpoints(issuer)).introspection, client, { token });
}

export async function revoke(issuer: string, client: ClientCredentials, token: string): Promise<JsonResponse> {
  return postForm((await endpoints(issuer)).revocation, client, { token });
}

/** Userinfo the three ways RFC 6750 allows: Bearer on GET or POST, or `access_token` in a POST form. */
export async function userinfo(issuer: string, accessToken: string, how: 'get' | 'post' | 'form' = 'get'): Promise<JsonResponse> {
  const url = (await endpoints(issuer)).userinfo;
  if (how === 'form') {
    return json(
      await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: accessToken }).toString(),
      }),
    );
  }
  return json(await fetch(url, { method: how === 'get' ? 'GET' : 'POST', headers: { authorization: `Bearer ${accessToken}` } }));
}
