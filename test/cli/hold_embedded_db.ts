// Run directly by node (type stripping), not by vitest: holds a test's embedded database open
// the way a running server does (lock + published socket), so in-process CLI commands borrow it
// instead of each reopening PGlite. It must be another process: the lock is per process.
// Usage: node test/cli/hold_embedded_db.ts <dataDir>; prints "ready"; closes on SIGTERM or when
// its stdin closes (so it never outlives a test process that died).
import { registerHooks } from 'node:module';

// The sources import each other as `./x.js` (for the compiled build); here the file is x.ts.
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (error) {
      if (/^\.\.?\/.*\.js$/.test(specifier)) return next(specifier.replace(/\.js$/, '.ts'), context);
      throw error;
    }
  },
});

const { openDb } = await import('../../src/db/open_db.js');
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: hold_embedded_db.ts <dataDir>');
const db = await openDb({ databaseUrl: undefined, dataDir, poolSize: 4, role: 'server' });
process.stdout.write('ready\n');
const stop = () => void db.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.stdin.once('close', stop);
process.stdin.resume();
