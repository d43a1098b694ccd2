import { isDeepStrictEqual } from 'node:util';
import * as oidc from 'openid-client';
import type { UpstreamConfig } from '../config/gatehouse_config.js';
import type { Logger } from '../core/log.js';
import { UpstreamFailure } from './upstream_failure.js';

// The configured upstream identity providers and their openid-client configurations. An
// OpenID Connect upstream is discovered lazily: at start (and after a reload) in the background,
// where a failure is only a warning, and again on use until it succeeds, so an upstream that is
// down at start does not stop Gatehouse and works once it is back.

export interface Upstream {
  config: UpstreamConfig;
  /** the (issuer, sub) namespace of its identities: the OIDC issuer, or `oauth2:<id>` */
  issuer: string;
  /** the openid-client configuration (discovered for OIDC); throws UpstreamFailure('unavailable') */
  client(): Promise<oidc.Configuration>;
}

function plainHttp(url: string): boolean {
  return url.startsWith('http:');
}

function clientAuth(config: UpstreamConfig): oidc.ClientAuth {
  return config.client_secret ? oidc.ClientSecretBasic(config.client_secret) : oidc.None();
}

function oauth2Client(config: Extract<UpstreamConfig, { type: 'oauth2' }>): oidc.Configuration {
  const client = new oidc.Configuration(
    {
      issuer: new URL(config.authorization_endpoint).origin,
      authorization_endpoint: config.authorization_endpoint,
      token_endpoint: config.token_endpoint,
      userinfo_endpoint: config.userinfo_endpoint,
    },
    config.client_id,
    config.client_secret ? { client_secret: config.client_secret } : undefined,
    clientAuth(config),
  );
  client.timeout = config.timeout_seconds;
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- an admin-configured http endpoint (development, tests) is theirs to choose
  if ([config.authorization_endpoint, config.token_endpoint, config.userinfo_endpoint].some(plainHttp)) oidc.allowInsecureRequests(client);
  return client;
}

function createUpstream(config: UpstreamConfig): Upstream {
  if (config.type === 'oauth2') {
    const client = oauth2Client(config);
    return { config, issuer: `oauth2:${config.id}`, client: () => Promise.resolve(client) };
  }
  let discovered: Promise<oidc.Configuration> | undefined;
  const discover = async () => {
    try {
      return await oidc.discovery(
        new URL(config.issuer),
        config.client_id,
        config.client_secret ? { client_secret: config.client_secret } : undefined,
        clientAuth(config),
        // The ID token's signature is checked against the upstream's JWKS even though it came
        // straight from the token endpoint (openid-client skips that by default).
        {
          timeout: config.timeout_seconds,
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- an admin-configured http issuer (development, tests) is theirs to choose
          execute: [oidc.enableNonRepudiationChecks, ...(plainHttp(config.issuer) ? [oidc.allowInsecureRequests] : [])],
        },
      );
    } catch (error) {
      discovered = undefined;
      throw new UpstreamFailure('unavailable', `${config.name} could not be reached`, { upstreamId: config.id, cause: error });
    }
  };
  return {
    config,
    issuer: config.issuer,
    client() {
      discovered ??= discover().then((client) => {
        client.timeout = config.timeout_seconds;
        return client;
      });
      return discovered;
    },
  };
}

export interface UpstreamRegistry {
  /** every upstream, in config order */
  list(): readonly Upstream[];
  get(id: string): Upstream | undefined;
  /** Takes a (reloaded) config's upstreams; an unchanged upstream keeps its discovered configuration. */
  reconfigure(upstreams: readonly UpstreamConfig[]): void;
}

export function createUpstreamRegistry(log: Logger, initial: readonly UpstreamConfig[]): UpstreamRegistry {
  let upstreams = new Map<string, Upstream>();

  function warmUp(upstream: Upstream) {
    upstream.client().then(
      () => log.info({ event: 'upstream.discovered', upstream: upstream.config.id }, 'upstream identity provider discovered'),
      (error: unknown) =>
        log.warn(
          {
            event: 'upstream.unreachable',
            upstream: upstream.config.id,
            reason: (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : undefined,
          },
          'upstream identity provider could not be discovered; it is tried again when someone signs in with it',
        ),
    );
  }

  function reconfigure(next: readonly UpstreamConfig[]) {
    const previous = upstreams;
    upstreams = new Map();
    for (const config of next) {
      const kept = previous.get(config.id);
      const upstream = kept && isDeepStrictEqual(kept.config, config) ? kept : createUpstream(config);
      upstreams.set(config.id, upstream);
      if (upstream !== kept && config.type === 'oidc') warmUp(upstream);
    }
  }
  reconfigure(initial);

  return {
    list: () => [...upstreams.values()],
    get: (id) => upstreams.get(id),
    reconfigure,
  };
}
