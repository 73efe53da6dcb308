// Starts a real Sentinel topology for failover tests: one master, one replica in sync, three Sentinels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { waitForReplicas } from './replication.js';

/** The name the Sentinels monitor the master under. */
export const SENTINEL_MASTER_NAME = 'failover';

export interface SentinelTopology {
  readonly name: string;
  /** The Sentinels' addresses, for `new Redis({ sentinels, name })`. */
  readonly sentinels: readonly { host: string; port: number }[];
  /** The first master and its replica; after a failover the replica is the master. */
  readonly master: RedisServer;
  readonly replica: RedisServer;
  /** Milliseconds without an answer before a Sentinel considers the master down. */
  readonly downAfterMs: number;
  /** A client through the Sentinels (closed by `stop()`). */
  client(options?: RedisOptions): Redis;
  /** The master's address as the Sentinels report it now. */
  currentMaster(): Promise<{ host: string; port: number }>;
  /** Stops the clients, the Sentinels and both servers. */
  stop(): Promise<void>;
}

export interface SentinelOptions {
  /** Sentinel `down-after-milliseconds` (default 1000). */
  downAfterMs?: number;
  /** Sentinel `failover-timeout` (default 5000). */
  failoverTimeoutMs?: number;
}

/**
 * Starts the master and a replica (diskless sync without the default 5 s delay, so the replica is a copy at
 * once), then three Sentinels with quorum 2, and resolves once the replica is in sync and every Sentinel knows
 * the replica and the two other Sentinels (before that, a failover could not be authorised).
 */
export async function startSentinel(options: SentinelOptions = {}): Promise<SentinelTopology> {
  const downAfterMs = options.downAfterMs ?? 1_000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 5_000;
  const started: RedisServer[] = [];
  const dirs: string[] = [];
  const clients: Redis[] = [];
  const stopAll = async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await Promise.all(started.map((s) => s.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const sync = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
    const master = await startRedisServer({ args: sync });
    started.push(master);
    const replica = await startRedisServer({
      args: [...sync, '--replicaof', '127.0.0.1', String(master.port)],
    });
    started.push(replica);
    await waitForReplicas(master.port, 1, 20_000);

    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'erk-sentinel-'));
      dirs.push(dir);
      const configFile = join(dir, 'sentinel.conf');
      writeFileSync(
        configFile,
        [
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = await startRedisServer({ configFile, dir, args: ['--sentinel'] });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    const admins = sentinels.map((s) => new Redis(s.port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
    try {
      await waitUntil(
        async () => {
          const views = await Promise.all(
            admins.map((a) => a.call('SENTINEL', 'MASTER', SENTINEL_MASTER_NAME) as Promise<string[]>),
          );
          return views.every((flat) => {
            const fields = pairs(flat);
            return fields['num-other-sentinels'] === '2' && fields['num-slaves'] === '1';
          });
        },
        20_000,
        'the Sentinels did not discover each other and the replica',
      );
    } finally {
      for (const admin of admins) admin.disconnect();
    }

    const addresses = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    return {
      name: SENTINEL_MASTER_NAME,
      sentinels: addresses,
      master,
      replica,
      downAfterMs,
      client(clientOptions = {}) {
        const client = new Redis({
          sentinels: addresses,
          name: SENTINEL_MASTER_NAME,
          maxRetriesPerRequest: 1,
          ...clientOptions,
        });
        client.on('error', () => {});
        clients.push(client);
        return client;
      },
      async currentMaster() {
        for (const sentinel of sentinels) {
          const admin = new Redis(sentinel.port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true });
          admin.on('error', () => {});
          try {
            const [host, port] = (await admin.call(
              'SENTINEL',
              'GET-MASTER-ADDR-BY-NAME',
              SENTINEL_MASTER_NAME,
            )) as [string, string];
            return { host, port: Number(port) };
          } catch {
            // ask the next Sentinel
          } finally {
            admin.disconnect();
          }
        }
        throw new Error('no Sentinel answered');
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** `['a', '1', 'b', '2']` → `{ a: '1', b: '2' }` (the shape of SENTINEL MASTER's reply). */
function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}
