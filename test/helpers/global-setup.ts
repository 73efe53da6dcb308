// Vitest global setup: one private redis-server for the whole run (or REDIS_URL), shared with every test file.
import type { TestProject } from 'vitest/node';
import { findRedisServer, INSTALL_HINT, startRedisServer } from './redis-server.js';
import { pingUrl } from './redis-url.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.REDIS_URL;
  if (given) {
    if (!(await pingUrl(given))) {
      throw new Error(
        `REDIS_URL=${given} does not answer PING. Start that Redis, or unset REDIS_URL. ${INSTALL_HINT}`,
      );
    }
    project.provide('redisUrl', given);
    return async () => {};
  }
  if (!findRedisServer()) {
    throw new Error(
      `The tests need a real Redis: redis-server was not found on PATH and REDIS_URL is not set. ${INSTALL_HINT}`,
    );
  }
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return () => server.stop();
}
