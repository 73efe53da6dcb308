// One master of a real 3-master Cluster frozen with SIGSTOP: calls on keys of the other masters go on being
// answered, and calls on the frozen master's keys each end with a timeout, never hang.
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTimeoutError, redisCaller } from '../../src/redis/index.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { DEADLINE_MARGIN_MS } from '../helpers/http.js';
import { sleep } from './support.js';

const COMMAND_TIMEOUT_MS = 500;

/**
 * A call that ended at its deadline. The caller's deadline and the client's `commandTimeout` are the same, as
 * the production docs recommend, so either timer may fire first on a loaded machine.
 */
function timedOut(outcome: unknown): boolean {
  return (
    outcome instanceof RedisTimeoutError ||
    (outcome instanceof Error && outcome.message === 'Command timed out')
  );
}

let cluster: RedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  client = cluster.client({ redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 } });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** A key whose slot the master listening on `port` serves. */
async function keyOn(port: number): Promise<string> {
  const ranges = await client.cluster('SLOTS');
  for (let i = 0; ; i++) {
    const key = `frozen-test-${i}`;
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
    if (ranges.some(([from, to, owner]) => from <= slot && slot <= to && owner?.[1] === port)) return key;
  }
}

describe('one master of a Cluster stops answering', () => {
  it("keeps answering the other masters' keys, and times out each call on the frozen one", async () => {
    const [frozen, live] = cluster.servers;
    if (!frozen || !live) throw new Error('the cluster has three masters');
    const frozenKey = await keyOn(frozen.port);
    const liveKey = await keyOn(live.port);
    await client.set(frozenKey, 'frozen');
    await client.set(liveKey, 'live');
    const caller = redisCaller(client, COMMAND_TIMEOUT_MS);

    frozen.pause();
    try {
      const stuck = caller.call(() => client.get(frozenKey)).catch((e: unknown) => e);
      // Calls on the live master, made before and after the stuck call's deadline.
      const liveAnswers: unknown[] = [];
      const until = Date.now() + 2 * COMMAND_TIMEOUT_MS;
      while (Date.now() < until) {
        liveAnswers.push(await caller.call(() => client.get(liveKey)).catch((e: unknown) => e));
        await sleep(20);
      }
      expect(timedOut(await stuck), String(await stuck)).toBe(true);
      // Redis answered calls made after the stuck one, so its timeout says nothing about them.
      expect(liveAnswers.filter((a) => a !== 'live').map(String)).toEqual([]);
      expect(liveAnswers.length).toBeGreaterThan(10);
      // The frozen master's keys are still tried, and each call ends at its deadline.
      const started = Date.now();
      const last = await caller.call(() => client.get(frozenKey)).catch((e: unknown) => e);
      expect(timedOut(last), String(last)).toBe(true);
      expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + DEADLINE_MARGIN_MS);
    } finally {
      frozen.resume();
    }
    // That last timeout was news (no later call was answered): the next probe may go out 100 ms after it.
    await sleep(150);
    expect(await caller.call(() => client.get(frozenKey))).toBe('frozen');
  }, 30_000);
});
