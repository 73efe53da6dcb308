// Starts a real local Redis Cluster (redis-server processes with --cluster-enabled yes) for tests.
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import { isListening, type RedisServer, startRedisServer } from './redis-server.js';

const SLOTS = 16_384;

export interface RedisCluster {
  /** The masters' addresses, for `new Cluster(nodes)`. */
  readonly nodes: readonly { host: string; port: number }[];
  readonly servers: readonly RedisServer[];
  /** A Cluster client on these nodes (closed by `stop()`). */
  client(options?: ClusterOptions): Cluster;
  /** Closes the clients and stops every node. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-server processes in cluster mode, splits the 16384 slots between them, joins them
 * with CLUSTER MEET and resolves once every node reports `cluster_state:ok`.
 */
export async function startCluster({ masters = 3 }: { masters?: number } = {}): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const clients: Cluster[] = [];
  try {
    for (let i = 0; i < masters; i++) servers.push(await startClusterNode());
    const admins = servers.map((s) => new Redis(s.port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
    try {
      const perNode = Math.ceil(SLOTS / masters);
      await Promise.all(
        admins.map((admin, i) => {
          const first = i * perNode;
          const last = Math.min(SLOTS, first + perNode) - 1;
          const slots = Array.from({ length: last - first + 1 }, (_, k) => first + k);
          return admin.call('CLUSTER', 'ADDSLOTS', ...slots);
        }),
      );
      const [seed, ...others] = admins;
      if (!seed) throw new Error('a cluster needs at least one master');
      await Promise.all(
        others.map((admin) => admin.call('CLUSTER', 'MEET', '127.0.0.1', String(seed.options.port))),
      );
      await waitFor(async () => {
        const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO') as Promise<string>));
        return infos.every(
          (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`),
        );
      }, 20_000);
    } finally {
      for (const admin of admins) admin.disconnect();
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }

  const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  return {
    nodes,
    servers,
    client(options = {}) {
      const client = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 }, ...options });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/**
 * Starts one cluster-mode redis-server. Its cluster bus listens on port + 10000; both ports come from below
 * the kernel's ephemeral range (32768 and up), so no outgoing connection or OS-picked port can hold them.
 * Another test file may still take the same pair at the same moment: then it tries another.
 */
async function startClusterNode(): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickClusterPort();
    try {
      return await startRedisServer({
        port,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ],
      });
    } catch (error) {
      if (attempt >= 5 || !String(error).includes('Address already in use')) throw error;
    }
  }
}

async function pickClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 12_700);
    if (!(await isListening(port)) && !(await isListening(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cluster did not become ready within ${timeoutMs} ms`);
}
