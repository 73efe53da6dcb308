// Browser tests: headless Chromium (Debian's, found on PATH) driven by playwright-core against the real shop.
import { defineConfig } from 'vitest/config';
import { ioredisAlias, ioredisEnv } from './test/helpers/ioredis-version.js';

export default defineConfig({
  resolve: { conditions: ['@express-redis-kit/source'], alias: ioredisAlias() },
  ssr: {
    resolve: { conditions: ['@express-redis-kit/source'], externalConditions: ['@express-redis-kit/source'] },
  },
  test: {
    env: ioredisEnv(),
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
