// Unit and integration tests: real redis-server started by the global setup, files in parallel.
import { defineConfig } from 'vitest/config';
import { ioredisAlias, ioredisEnv } from './test/helpers/ioredis-version.js';

export default defineConfig({
  resolve: { conditions: ['@express-redis-kit/source'], alias: ioredisAlias() },
  ssr: {
    resolve: { conditions: ['@express-redis-kit/source'], externalConditions: ['@express-redis-kit/source'] },
  },
  test: {
    env: ioredisEnv(),
    include: ['test/**/*.test.ts', 'example-app/test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/packaging/**', 'node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
