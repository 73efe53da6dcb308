// Chunks: operations cut into bounded flush-script calls, and packed HyperLogLog elements cut apart again by
// the script, each element counted once.
import { describe, expect, it } from 'vitest';
import { ChunkBuilder } from '../../src/page-views/chunks.js';
import { FLUSH_SCRIPT } from '../../src/page-views/scripts.js';
import { registerVariadicScript } from '../../src/redis/index.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

describe('chunks', () => {
  it('packs elements of one length, splits them at the bound, and the flush script adds each one', async () => {
    const client = redis.connect();
    const flush = registerVariadicScript(client, FLUSH_SCRIPT);
    let id = 0;
    const builder = new ChunkBuilder(() => `c${++id}`, 40);
    const hll = redis.prefix('{t}:u:packed');
    const views = redis.prefix('{t}:d:packed');
    const expireAt = Math.ceil(Date.now() / 1000) + 3_600;
    const elements = Array.from({ length: 2_500 }, (_, i) => `h${String(i).padStart(10, '0')}`);
    builder.add(views, 'h', expireAt, ['/a', 3, '/b', 4]);
    builder.addPacked(hll, expireAt, elements);

    // each chunk holds at most 40 arguments, counting a packed element as one
    expect(builder.chunks.length).toBeGreaterThan(2_500 / 40);
    for (const chunk of builder.chunks) {
      const packed = chunk.args.filter((a): a is string => typeof a === 'string' && a.length > 11);
      const elements = packed.reduce((n, p) => n + p.length / 11, 0);
      const weight = chunk.args.length - packed.length + elements;
      expect(weight).toBeLessThanOrEqual(40);
      const marker = redis.prefix(`{t}:f:${chunk.id}`);
      expect(await flush([marker, ...chunk.keys], [60_000, 0, ...chunk.args])).toBe(1);
    }
    expect(await client.hgetall(views)).toEqual({ '/a': '3', '/b': '4' });
    // a HyperLogLog estimate of 2,500 distinct elements (0.81 % standard error)
    expect(Math.abs((await client.pfcount(hll)) - 2_500)).toBeLessThan(100);
    expect(await client.ttl(hll)).toBeGreaterThan(3_500);
  });

  it('packs into one argument when everything fits', () => {
    const builder = new ChunkBuilder(() => 'only');
    builder.addPacked('k', 1, ['aaaaaaaaaaa', 'bbbbbbbbbbb', 'ccccccccccc']);
    expect(builder.chunks).toHaveLength(1);
    expect(builder.chunks[0]?.args).toEqual([1, 'P', 1, 3, 'aaaaaaaaaaabbbbbbbbbbbccccccccccc']);
  });
});
