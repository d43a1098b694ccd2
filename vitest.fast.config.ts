import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:fast`: the layers that need no browser and start no process (unit tests, and the
// protocol tests on in-process servers). `npm test` runs everything, this included.
// (Spread, not mergeConfig: that would append these lists to the full run's.)
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts', 'test/protocol/**/*.test.ts'],
    // Nothing here runs dist/: only the embedded database's template is needed.
    globalSetup: ['test/support/global_setup.ts'],
    // One module graph per worker instead of one per file: oidc-provider, jose and the app are
    // loaded twice in all rather than 46 times, which halves the layer's CPU time (93 to 52 CPU
    // seconds here). Every file still starts its own server on its own database. `npm test`
    // keeps isolating files (interactive_hygiene.test.ts needs a fresh process to see the
    // library's once-per-process warnings).
    isolate: false,
    // vitest's default is one worker per core less one: a single worker on a 2-core machine. These
    // files mostly wait (on the database, on HTTP round trips, on a lockout window), so three
    // overlap well: 124 s down to 40 s on Postgres here, 157 s to 57 s on embedded PGlite.
    maxWorkers: 3,
  },
});
