import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The runtime settings production runs Gatehouse with, read from the Dockerfile's ENV, so the
// bench measures the server as deployed: V8's heap sizes (NODE_OPTIONS) and glibc's malloc
// settings (GLIBC_TUNABLES). Only those; the rest of the Dockerfile's ENV (port, data dir,
// workers) is the bench's to choose.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAMES = ['NODE_OPTIONS', 'GLIBC_TUNABLES'];

export function productionRuntimeEnv() {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  // The last stage's ENV instructions, continuation lines joined.
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env = {};
  for (const [, body] of lastStage.replace(/\\\n/g, ' ').matchAll(/^ENV\s+(.+)$/gm)) {
    for (const [, name, quoted, bare] of body.matchAll(/([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|(\S+))/g)) {
      if (NAMES.includes(name)) env[name] = quoted ?? bare;
    }
  }
  return env;
}

/** For the report: `NODE_OPTIONS="…" GLIBC_TUNABLES=…`. */
export function describeRuntime(env) {
  return Object.entries(env)
    .map(([name, value]) => (/\s/.test(value) ? `${name}="${value}"` : `${name}=${value}`))
    .join(' ');
}
