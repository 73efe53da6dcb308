import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineScript, registerScript } from '../../src/redis/index.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

const SWAP = defineScript<string[]>({
  name: 'testClusterSwap',
  keys: 2,
  lua: "local a = redis.call('GET', KEYS[1]); local b = redis.call('GET', KEYS[2]); redis.call('SET', KEYS[1], b); redis.call('SET', KEYS[2], a); return {b, a}",
});

describe('a local Redis Cluster of 3 masters', () => {
  it('writes and reads keys spread over every master', async () => {
    const client = cluster.client();
    const keys = Array.from({ length: 30 }, (_, i) => `spread:${i}`);
    await Promise.all(keys.map((k, i) => client.set(k, String(i))));
    const values = await Promise.all(keys.map((k) => client.get(k)));
    expect(values).toEqual(keys.map((_, i) => String(i)));

    const slots = new Set(await Promise.all(keys.map((k) => client.call('CLUSTER', 'KEYSLOT', k))));
    expect(slots.size).toBeGreaterThan(1);
    const counts = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    expect(counts.filter((n) => n > 0).length).toBe(3);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('runs a registered two-key script when both keys share a hash tag', async () => {
    const client = cluster.client();
    const swap = registerScript(client, SWAP);
    await client.set('{user:7}:a', 'A');
    await client.set('{user:7}:b', 'B');
    expect(await swap(['{user:7}:a', '{user:7}:b'])).toEqual(['B', 'A']);
    expect(await client.get('{user:7}:a')).toBe('B');
  });

  it('refuses a multi-key script across slots (CROSSSLOT), which is why keys carry hash tags', async () => {
    const client = cluster.client();
    const swap = registerScript(client, SWAP);
    const [a, b] = ['cross:a', 'cross:bb'];
    const slotA = await client.call('CLUSTER', 'KEYSLOT', a);
    const slotB = await client.call('CLUSTER', 'KEYSLOT', b);
    expect(slotA).not.toBe(slotB);
    await expect(swap([a, b])).rejects.toThrow(/CROSSSLOT|slot/i);
  });
});
