import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { acceptsConnections, REPO_ROOT } from './spawn_gatehouse.js';

// TLS in front of a test Gatehouse, as in production: Debian's nginx running the repository's
// own deploy/nginx.conf (only its upstream, ports and certificate paths changed), with a
// throwaway self-signed certificate for `localhost` made by the openssl CLI.

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /** base64 SHA-256 of the public key (SPKI), for Chromium's --ignore-certificate-errors-spki-list */
  spkiSha256: string;
}

export async function makeTestCertificate(dir: string): Promise<TestCertificate> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]).catch((error: unknown) => {
    throw new Error(`openssl could not make a test certificate (install the Debian package openssl): ${(error as Error).message}`);
  });
  const certPem = await readFile(certFile, 'utf8');
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return { certFile, keyFile, certPem, keyPem: await readFile(keyFile, 'utf8'), spkiSha256: createHash('sha256').update(spki).digest('base64') };
}

export interface RunningNginx {
  /** nginx's output and error log, to show when something fails */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** deploy/nginx.conf with the test's upstream, ports, certificate and writable paths. */
async function testConfig(options: { upstreamPort: number; httpPort: number; httpsPort: number; cert: TestCertificate; dir: string }): Promise<string> {
  const shipped = await readFile(path.join(REPO_ROOT, 'deploy/nginx.conf'), 'utf8');
  const replacements: [string, string][] = [
    ['server gatehouse-replica:3000;', `server 127.0.0.1:${options.upstreamPort};`],
    ['listen 8080;', `listen 127.0.0.1:${options.httpPort};`],
    ['listen 8443 ssl;', `listen 127.0.0.1:${options.httpsPort} ssl;`],
    ['https://$host:8443$request_uri', `https://$host:${options.httpsPort}$request_uri`],
    ['/etc/nginx/tls/cert.pem', options.cert.certFile],
    ['/etc/nginx/tls/key.pem', options.cert.keyFile],
    [
      'http {',
      `http {\n  access_log off;\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(options.dir, `${t}_temp`)};`).join('\n')}`,
    ],
  ];
  let config = shipped;
  for (const [from, to] of replacements) {
    if (!config.includes(from)) throw new Error(`deploy/nginx.conf no longer contains "${from}": update test/support/nginx_tls.ts`);
    config = config.replace(from, to);
  }
  // As root, nginx would run its workers as `nobody`, who cannot enter the test's private folder.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}pid ${path.join(options.dir, 'nginx.pid')};\nerror_log ${path.join(options.dir, 'error.log')} warn;\n${config}`;
}

export async function startNginx(options: {
  upstreamPort: number;
  httpPort: number;
  httpsPort: number;
  cert: TestCertificate;
  dir: string;
}): Promise<RunningNginx> {
  await access(NGINX).catch(() => {
    throw new Error(`nginx is needed for this test and is missing (${NGINX}): install the Debian package nginx-light (or set NGINX_PATH)`);
  });
  const configFile = path.join(options.dir, 'nginx.conf');
  await writeFile(configFile, await testConfig(options));
  const child: ChildProcess = spawn(NGINX, ['-p', options.dir, '-e', path.join(options.dir, 'error.log'), '-c', configFile, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const log = async () => `${output}${await readFile(path.join(options.dir, 'error.log'), 'utf8').catch(() => '')}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await exit;
    }
  };
  for (let i = 0; i < 100 && !exited; i++) {
    if ((await acceptsConnections(options.httpsPort)) && (await acceptsConnections(options.httpPort))) return { log, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`nginx did not start:\n${await log()}`);
}
