// Sentinel failover under load: the master is SIGKILLed, a Sentinel promotes the replica, and every middleware
// and the shop keep their promises (see support.ts); the measured figures are in the production docs.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicationRound } from '../helpers/replication.js';
import { type SentinelTopology, startSentinel } from '../helpers/sentinel.js';
import { COMMAND_TIMEOUT_MS, type Failover, failover } from './support.js';

let topology: SentinelTopology;
let client: Redis;
let scenario: Failover;

beforeAll(async () => {
  topology = await startSentinel({ downAfterMs: 1_000, failoverTimeoutMs: 5_000 });
  // The client options the production docs recommend for Sentinel.
  client = topology.client({
    enableAutoPipelining: true,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
    // A master demoted while clients still reach it (a partition healed, a manual failover) answers writes
    // with READONLY: reconnecting asks the Sentinels for the new master.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  });
  const { master, replica } = topology;
  scenario = failover({
    client,
    detectionMs: topology.downAfterMs,
    onVictim: async () => true,
    replicationRound: () => replicationRound(master.port, replica.port),
    replicaPort: replica.port,
    kill: () => master.kill(),
    promoted: async () => (await topology.currentMaster()).port === replica.port,
  });
  await scenario.setUp();
});

afterAll(async () => {
  await scenario?.close();
  await topology?.stop();
});

describe('Sentinel: the master is killed under load and its replica promoted', () => {
  it('answers every request by policy, recovers within detection + 2 s, and keeps what was replicated', async () => {
    const report = await scenario.run();
    if (process.env.FAILOVER_REPORT) console.info('sentinel failover', report);
    expect(report.ordersLost).toBeLessThanOrEqual(report.ordersAtRisk);
  }, 60_000);
});
