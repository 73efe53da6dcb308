// The packaging test: `npm pack`, then fresh consumer projects install the tarball (needs the npm registry).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/packaging/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
