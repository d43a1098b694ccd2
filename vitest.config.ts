import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/support/global_setup.ts', 'test/support/build_dist_setup.ts', 'test/support/pgbouncer_setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    // vitest's default is one worker per core less one: a single worker on a 2-core machine, and
    // most files here wait (on HTTP round trips, the database, Chromium, a child process) far more
    // than they compute. Three overlap those waits (see vitest.fast.config.ts for the fast layer).
    // Files stay isolated, each in a fresh process: interactive_hygiene.test.ts needs one.
    maxWorkers: 3,
  },
});
