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
  },
});
