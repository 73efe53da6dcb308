// Starts a real local Redis Cluster (redis-server processes with --cluster-enabled yes) for tests.
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import { isListening, type RedisServer, startRedisServer } from './redis-server.js';
import { waitForReplicas } from './replication.js';

const SLOTS = 16_384;

export interface RedisCluster {
  /** The masters' addresses, for `new Cluster(nodes)`. */
  readonly nodes: readonly { host: string; port: number }[];
  /** The masters. */
  readonly servers: readonly RedisServer[];
  /** `replicas[i]` are the replicas of `servers[i]` (none unless `replicasPerMaster` was set). */
  readonly replicas: readonly (readonly RedisServer[])[];
  /** A Cluster client on these nodes (closed by `stop()`). */
  client(options?: ClusterOptions): Cluster;
  /** Closes the clients and stops every node. */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** Number of masters (default 3). */
  masters?: number;
  /** Replicas of each master (default 0). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node may be unreachable before it counts as failing (default 2000). */
  nodeTimeoutMs?: number;
}

/**
 * Starts `masters` redis-server processes in cluster mode, splits the 16384 slots between them, joins them
 * with CLUSTER MEET and resolves once every node reports `cluster_state:ok`. With `replicasPerMaster`, each
 * master also gets replicas (diskless sync without the default 5 s delay), and it resolves only once every
 * replica is in sync with its master.
 */
export async function startCluster({
  masters = 3,
  replicasPerMaster = 0,
  nodeTimeoutMs = 2_000,
}: StartClusterOptions = {}): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const replicas: RedisServer[][] = [];
  const clients: Cluster[] = [];
  const everyNode = () => [...servers, ...replicas.flat()];
  try {
    for (let i = 0; i < masters; i++) servers.push(await startClusterNode(nodeTimeoutMs));
    for (let i = 0; i < masters; i++) {
      const own: RedisServer[] = [];
      replicas.push(own);
      for (let r = 0; r < replicasPerMaster; r++) own.push(await startClusterNode(nodeTimeoutMs));
    }
    const admins = everyNode().map((s) => new Redis(s.port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
    try {
      const perNode = Math.ceil(SLOTS / masters);
      await Promise.all(
        admins.slice(0, masters).map((admin, i) => {
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
      const total = admins.length;
      await waitFor(async () => {
        const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO') as Promise<string>));
        return infos.every((info) => info.includes(`cluster_known_nodes:${total}`));
      }, 20_000);
      if (replicasPerMaster > 0) {
        const ids = await Promise.all(
          admins.slice(0, masters).map((a) => a.call('CLUSTER', 'MYID') as Promise<string>),
        );
        await Promise.all(
          admins.slice(masters).map((admin, k) => {
            const master = ids[Math.floor(k / replicasPerMaster)] as string;
            return admin.call('CLUSTER', 'REPLICATE', master);
          }),
        );
      }
      await waitFor(async () => {
        const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO') as Promise<string>));
        return infos.every(
          (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${total}`),
        );
      }, 20_000);
    } finally {
      for (const admin of admins) admin.disconnect();
    }
    if (replicasPerMaster > 0) {
      await Promise.all(servers.map((s) => waitForReplicas(s.port, replicasPerMaster, 20_000)));
    }
  } catch (error) {
    await Promise.all(everyNode().map((s) => s.stop()));
    throw error;
  }

  const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  return {
    nodes,
    servers,
    replicas,
    client(options = {}) {
      const client = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 }, ...options });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      await Promise.all(everyNode().map((s) => s.stop()));
    },
  };
}

/**
 * Starts one cluster-mode redis-server. Its cluster bus listens on port + 10000; both ports come from below
 * the kernel's ephemeral range (32768 and up), so no outgoing connection or OS-picked port can hold them.
 * Another test file may still take the same pair at the same moment: then it tries another.
 */
async function startClusterNode(nodeTimeoutMs: number): Promise<RedisServer> {
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
          String(nodeTimeoutMs),
          '--repl-diskless-sync',
          'yes',
          '--repl-diskless-sync-delay',
          '0',
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
