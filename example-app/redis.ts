// Connects the shop to Redis: REDIS_URL if it answers, else a private redis-server with its data kept on disk.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** Client options for the shop: auto-pipelining merges the middlewares' commands; nothing waits forever. */
const CLIENT_OPTIONS: RedisOptions = {
  enableAutoPipelining: true,
  commandTimeout: 2_000,
  maxRetriesPerRequest: 2,
};

export interface ShopRedis {
  readonly client: Redis;
  readonly url: string;
  /** True when the shop started its own redis-server. */
  readonly private: boolean;
  /** Closes the client and stops the private server, if any. */
  close(): Promise<void>;
}

export class RedisUnavailableError extends Error {}

/**
 * Returns a client for `url`. When nothing answers there, starts `redis-server` from PATH on a free port with
 * its data (AOF on) in `dataDir`, logs one line saying so, and stops it on `close()`.
 */
export async function connectRedis(
  url: string,
  dataDir: string,
  log: (line: string) => void,
): Promise<ShopRedis> {
  if (await answers(url)) {
    const client = new Redis(url, CLIENT_OPTIONS);
    return { client, url, private: false, close: () => quit(client) };
  }
  const binary = findOnPath('redis-server');
  if (!binary) {
    throw new RedisUnavailableError(
      `No Redis answers at ${url}, and redis-server is not installed to start a private one. ` +
        'Install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`) ' +
        'or set REDIS_URL to a running Redis, e.g. REDIS_URL=redis://127.0.0.1:6379 npm start',
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const server = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--save', ''],
    { stdio: 'ignore' },
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  if (!(await waitUntilAnswering(privateUrl, server))) {
    server.kill('SIGKILL');
    throw new RedisUnavailableError(
      `A private redis-server could not be started on port ${port} (data in ${dataDir}).`,
    );
  }
  log(
    `No Redis answers at ${url}; started a private redis-server on ${privateUrl} with its data in ${dataDir}.`,
  );
  const client = new Redis(privateUrl, CLIENT_OPTIONS);
  return {
    client,
    url: privateUrl,
    private: true,
    async close() {
      await quit(client);
      await stop(server);
    },
  };
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function waitUntilAnswering(url: string, server: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && server.exitCode === null) {
    if (await answers(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function quit(client: Redis): Promise<void> {
  await client.quit().catch(() => client.disconnect());
}

/** SIGTERM makes redis-server flush its AOF and exit cleanly. */
function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once('exit', () => resolve());
    server.kill('SIGTERM');
  });
}
