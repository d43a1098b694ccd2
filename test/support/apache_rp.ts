import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Real relying parties for the browser tests: Apache httpd with mod_auth_openidc, one virtual
// host (one port) per RP, in the foreground as our child process. Everything it writes (config,
// pid, logs, pages) lives in a fresh temp dir, and its ports are picked at run time, so several
// test files can run side by side and nothing touches the machine's own Apache.
//
// Gatehouse needs the RPs' URIs in its config before it starts, and Apache needs Gatehouse's
// issuer before it starts: `reserveApacheSites` picks the ports (holding them until Apache takes
// them over), then `startApache` writes the config and runs it.

const APACHE = process.env.APACHE_PATH ?? '/usr/sbin/apache2';
const MODULES = process.env.APACHE_MODULES_DIR ?? '/usr/lib/apache2/modules';
/** Only what the RPs use; Debian's apache2 has log_config, unixd and so compiled in. */
const NEEDED_MODULES = ['mpm_event', 'authz_core', 'authz_user', 'authn_core', 'mime', 'dir', 'include', 'auth_openidc'];
/** Apache refuses to serve as root: when we are root it drops to `nobody` (65534 on Debian and Red Hat alike). */
const UNPRIVILEGED = '#65534';

export interface ApacheSiteSpec {
  /** short name: the vhost's directory, cookie names and page headings use it */
  name: string;
  clientId: string;
  clientSecret: string;
}

/** One relying party's addresses, fixed before Apache starts. */
export interface ApacheSite extends ApacheSiteSpec {
  origin: string;
  /** the page behind `AuthType openid-connect`: it shows the signed-in user's claims */
  protectedUrl: string;
  /** mod_auth_openidc's own endpoint, inside the protected location */
  redirectUri: string;
  /** mod_auth_openidc receives logout tokens at its redirect URI */
  backchannelLogoutUri: string;
  /** an unprotected page to come back to after signing out */
  signedOutUrl: string;
  /** the GET that starts sign-out at this RP (RP-initiated logout with id_token_hint) */
  logoutUrl: string;
  /** the RP's session cookie; the state cookies start with `${stateCookiePrefix}` */
  sessionCookie: string;
  stateCookiePrefix: string;
}

export interface ReservedSites {
  sites: ApacheSite[];
  /** the listening sockets holding the ports until Apache binds them */
  holders: net.Server[];
}

export interface RunningApache {
  sites: ApacheSite[];
  dir: string;
  errorLog(): Promise<string>;
  /** lines of `<request line> <status>`, one per request the site answered */
  accessLog(site: ApacheSite): Promise<string[]>;
  stop(): Promise<void>;
}

async function holdFreePort(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

export async function reserveApacheSites(specs: ApacheSiteSpec[]): Promise<ReservedSites> {
  await requireApache();
  const holders = await Promise.all(specs.map(() => holdFreePort()));
  const sites = specs.map((spec, i): ApacheSite => {
    const origin = `http://127.0.0.1:${(holders[i]!.address() as net.AddressInfo).port}`;
    const redirectUri = `${origin}/protected/redirect_uri`;
    const signedOutUrl = `${origin}/signed-out.html`;
    return {
      ...spec,
      origin,
      protectedUrl: `${origin}/protected/`,
      redirectUri,
      backchannelLogoutUri: `${redirectUri}?logout=backchannel`,
      signedOutUrl,
      logoutUrl: `${redirectUri}?logout=${encodeURIComponent(signedOutUrl)}`,
      sessionCookie: `${spec.name}_session`,
      stateCookiePrefix: `${spec.name}_state_`,
    };
  });
  return { sites, holders };
}

/** Fails with a message that says what to install, rather than an ENOENT from spawn. */
async function requireApache(): Promise<void> {
  const missing: string[] = [];
  for (const file of [APACHE, ...NEEDED_MODULES.map((m) => path.join(MODULES, `mod_${m}.so`))]) {
    await access(file).catch(() => missing.push(file));
  }
  if (missing.length > 0) {
    throw new Error(
      `Apache with mod_auth_openidc is needed for this test and is missing (${missing.join(', ')}): install the Debian packages apache2 and libapache2-mod-auth-openidc (or set APACHE_PATH / APACHE_MODULES_DIR)`,
    );
  }
}

const html = (title: string, body: string) =>
  `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n<body><h1>${title}</h1>\n${body}\n</body></html>\n`;

function vhost(site: ApacheSite, dir: string, issuer: string, passphrase: string): string {
  const root = path.join(dir, site.name);
  const port = new URL(site.origin).port;
  return `
<VirtualHost 127.0.0.1:${port}>
  ServerName 127.0.0.1:${port}
  DocumentRoot "${root}"
  CustomLog "${path.join(dir, `${site.name}_access.log`)}" "%r %>s"
  <Directory "${root}">
    Require all granted
  </Directory>

  OIDCProviderMetadataURL ${issuer}/.well-known/openid-configuration
  OIDCClientID ${site.clientId}
  OIDCClientSecret ${site.clientSecret}
  OIDCProviderTokenEndpointAuth client_secret_basic
  OIDCScope "openid profile email"
  # Gatehouse requires PKCE of every client (RFC 9700); this module version sends none unless told.
  OIDCPKCEMethod S256
  OIDCRedirectURI ${site.redirectUri}
  OIDCCryptoPassphrase ${passphrase}
  # Two RPs on one host share the browser's cookie jar: without their own names they overwrite
  # each other. Over plain http the default SameSite=None cookies (without Secure) are dropped.
  OIDCCookie ${site.sessionCookie}
  OIDCStateCookiePrefix ${site.stateCookiePrefix}
  OIDCCookieSameSite On
  # Sessions live in the server's cache (the cookie only names one), so a logout token can end them.
  OIDCSessionType server-cache
  OIDCDefaultLoggedOutURL ${site.signedOutUrl}

  <Location /protected/>
    AuthType openid-connect
    Require valid-user
    Options +Includes
    SetOutputFilter INCLUDES
  </Location>
</VirtualHost>
`;
}

function apacheConfig(sites: ApacheSite[], dir: string, issuer: string): string {
  const passphrase = randomBytes(24).toString('base64url');
  const asRoot = process.getuid?.() === 0;
  return `# Generated by test/support/apache_rp.ts for one test run.
ServerRoot "${dir}"
PidFile "${path.join(dir, 'apache.pid')}"
DefaultRuntimeDir "${path.join(dir, 'run')}"
ErrorLog "${path.join(dir, 'error.log')}"
LogLevel warn auth_openidc:info
${NEEDED_MODULES.map((m) => `LoadModule ${m}_module "${path.join(MODULES, `mod_${m}.so`)}"`).join('\n')}
${asRoot ? `User ${UNPRIVILEGED}\nGroup ${UNPRIVILEGED}` : '# not root: Apache keeps our user'}
ServerName 127.0.0.1
# One small child: enough threads for a browser's parallel connections, little memory.
StartServers 1
ServerLimit 1
ThreadLimit 32
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
KeepAliveTimeout 2
TypesConfig /etc/mime.types
AddType text/html .shtml
DirectoryIndex index.html index.shtml
# Default: nothing outside the sites' own directories is served.
<Directory />
  Require all denied
</Directory>
# A small shared-memory session cache (the default reserves room for 10,000 16 kB entries).
OIDCCacheType shm
OIDCCacheShmMax 200
${sites.map((s) => `Listen 127.0.0.1:${new URL(s.origin).port}`).join('\n')}
${sites.map((s) => vhost(s, dir, issuer, passphrase)).join('\n')}`;
}

async function writeSitePages(site: ApacheSite, dir: string): Promise<void> {
  const root = path.join(dir, site.name);
  await mkdir(path.join(root, 'protected'), { recursive: true });
  await writeFile(path.join(root, 'index.html'), html(`${site.name} home`, `<p><a href="/protected/">Protected page</a></p>`));
  await writeFile(path.join(root, 'signed-out.html'), html(`Signed out of ${site.name}`, `<p><a href="/protected/">Sign in again</a></p>`));
  // mod_auth_openidc hands the ID token's claims to the page as OIDC_CLAIM_* variables; SSI
  // prints them HTML-escaped.
  await writeFile(
    path.join(root, 'protected', 'index.shtml'),
    html(
      `${site.name} protected page`,
      [
        `<p>Signed in as <strong id="name"><!--#echo var="OIDC_CLAIM_name" --></strong></p>`,
        `<dl><dt>sub</dt><dd id="sub"><!--#echo var="OIDC_CLAIM_sub" --></dd>`,
        `<dt>email</dt><dd id="email"><!--#echo var="OIDC_CLAIM_email" --></dd></dl>`,
        `<p><a id="sign-out" href="${site.logoutUrl.replace(/&/g, '&amp;')}">Sign out</a></p>`,
      ].join('\n'),
    ),
  );
}

async function readOr(file: string, fallback: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => fallback);
}

async function untilServing(sites: ApacheSite[], exited: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const site of sites) {
    for (;;) {
      const reason = exited();
      if (reason) throw new Error(`Apache ${reason} before serving ${site.origin}`);
      const status = await fetch(`${site.origin}/`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`Apache did not serve ${site.origin}/ within ${timeoutMs} ms (last status ${status})`);
      await sleep(50);
    }
  }
}

export async function startApache({ reserved, issuer }: { reserved: ReservedSites; issuer: string }): Promise<RunningApache> {
  const { sites, holders } = reserved;
  const release = () => Promise.all(holders.map((h) => new Promise<void>((resolve) => (h.listening ? h.close(() => resolve()) : resolve()))));
  let dir: string;
  try {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-apache-'));
    // As root, Apache's children run as nobody and must read the pages.
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, 'run'));
    for (const site of sites) await writeSitePages(site, dir);
  } finally {
    // Apache binds the ports next.
    await release();
  }
  const configFile = path.join(dir, 'apache.conf');
  await writeFile(configFile, apacheConfig(sites, dir, issuer));
  const errorLogFile = path.join(dir, 'error.log');
  const child: ChildProcess = spawn(APACHE, ['-d', dir, '-f', configFile, '-D', 'FOREGROUND'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = `exited (${signal ?? `code ${String(code)}`})`;
      resolve();
    });
    child.once('error', (error) => {
      exit = `could not start: ${error.message}`;
      resolve();
    });
  });

  const errorLog = async () => `${output}${await readOr(errorLogFile, '')}`;
  const stop = async () => {
    if (!exit) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await untilServing(sites, () => exit, 15_000);
  } catch (error) {
    const log = await errorLog();
    await stop();
    throw new Error(`${(error as Error).message}\n--- Apache output and error log ---\n${log}`, { cause: error });
  }

  return {
    sites,
    dir,
    errorLog,
    async accessLog(site) {
      return (await readOr(path.join(dir, `${site.name}_access.log`), '')).split('\n').filter(Boolean);
    },
    stop,
  };
}
