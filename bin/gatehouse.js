#!/usr/bin/env node
// The `gatehouse` admin command. The TypeScript sources are compiled to dist/ by `npm install`
// (the `prepare` script); see src/cli/main.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('gatehouse: not built yet; run `npm install` (or `npm run build`) first\n');
  process.exit(1);
}
await import(entry.href);
