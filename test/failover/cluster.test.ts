// Cluster failover under load: the master holding the shop's and the page views' slots is SIGKILLed, its
// replica is promoted, and every middleware and the shop keep their promises (see support.ts).
import type { Cluster } from 'ioredis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { replicationRound } from '../helpers/replication.js';
import { COMMAND_TIMEOUT_MS, type Failover, failover } from './support.js';

const NODE_TIMEOUT_MS = 1_000;

let cluster: RedisCluster;
let client: Cluster;
let admin: Redis;
let scenario: Failover;

beforeAll(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  // The client options the production docs recommend for Cluster.
  client = cluster.client({
    clusterRetryStrategy: () => 100,
    redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 },
  });
  const survivor = cluster.servers[1] as (typeof cluster.servers)[number];
  admin = new Redis(survivor.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  // The victim is the master that holds the shop: every shop key shares the `{shop}` tag.
  const slotOf = async (key: string) => Number(await admin.call('CLUSTER', 'KEYSLOT', key));
  const shopSlot = await slotOf('{shop}');
  const ranges = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => from <= shopSlot && shopSlot <= to);
  const victimPort = range?.[2][1];
  const index = cluster.servers.findIndex((s) => s.port === victimPort);
  const victim = cluster.servers[index];
  const replica = cluster.replicas[index]?.[0];
  if (!range || !victim || !replica) throw new Error('no master holds the shop slot');
  if (victim === survivor) {
    admin.disconnect();
    admin = new Redis((cluster.servers[0] as typeof victim).port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
  }
  const [from, to] = range;
  scenario = failover({
    client,
    detectionMs: NODE_TIMEOUT_MS,
    onVictim: async (key) => {
      const slot = await slotOf(key);
      return from <= slot && slot <= to;
    },
    replicationRound: () => replicationRound(victim.port, replica.port),
    replicaPort: replica.port,
    kill: () => victim.kill(),
    promoted: async () => {
      const probe = new Redis(replica.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      try {
        return (await probe.info('replication')).includes('role:master');
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
  });
  await scenario.setUp();
});

afterAll(async () => {
  await scenario?.close();
  admin?.disconnect();
  await cluster?.stop();
});

describe('Cluster: a master with a replica is killed under load and the replica promoted', () => {
  it('answers every request by policy, recovers within node timeout + 2 s, and keeps what was replicated', async () => {
    const report = await scenario.run();
    if (process.env.FAILOVER_REPORT) console.info('cluster failover', report);
    expect(report.ordersLost).toBeLessThanOrEqual(report.ordersAtRisk);
  }, 60_000);
});
