// TrackedReads against a real Redis: what it keeps, and every way a copy must stop being served.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrackedReads } from '../../src/redis/index.js';
import { redisUrl } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FOREVER = () => Number.POSITIVE_INFINITY;

async function eventually(check: () => boolean, ms = 1_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await sleep(5);
  }
}

describe('TrackedReads', () => {
  let client: Redis;
  let other: Redis;
  let reads: TrackedReads<string | null>;
  const keep = (value: string | null) => ({ value, until: FOREVER() });
  /** Reads `key` through the tracked connection, keeping the answer. */
  const read = (key: string) => reads.read(key, () => reads.reader.get(key), keep);

  beforeAll(async () => {
    client = new Redis(redisUrl());
    other = new Redis(redisUrl());
    reads = new TrackedReads(client, 3);
    await eventually(() => {
      void read('tr:probe');
      return reads.get('tr:probe') !== undefined;
    });
  });
  afterAll(async () => {
    await reads.close();
    client.disconnect();
    other.disconnect();
  });

  it('keeps a read and drops it when another connection changes the key', async () => {
    await other.set('tr:a', '1');
    expect(await read('tr:a')).toBe('1');
    expect(reads.get('tr:a')).toBe('1');
    await other.set('tr:a', '2');
    await eventually(() => reads.get('tr:a') === undefined);
    expect(await read('tr:a')).toBe('2');
    expect(reads.get('tr:a')).toBe('2');
  });

  it('does not keep a read that a change overtook while it was in flight', async () => {
    await other.set('tr:b', 'old');
    const answer = await reads.read(
      'tr:b',
      async () => {
        const value = await reads.reader.get('tr:b');
        // The key changes after Redis answered but before the answer is kept.
        await other.set('tr:b', 'new');
        await sleep(50);
        return value;
      },
      keep,
    );
    expect(answer).toBe('old');
    expect(reads.get('tr:b')).toBeUndefined();
  });

  it('serves nothing past the caller’s deadline', async () => {
    await other.set('tr:c', '1');
    await reads.read(
      'tr:c',
      () => reads.reader.get('tr:c'),
      (value) => ({ value, until: performance.now() + 30 }),
    );
    expect(reads.get('tr:c')).toBe('1');
    await sleep(40);
    expect(reads.get('tr:c')).toBeUndefined();
  });

  it('keeps at most its limit, dropping the oldest copy first', async () => {
    for (const key of ['tr:d1', 'tr:d2', 'tr:d3', 'tr:d4']) {
      await other.set(key, key);
      await read(key);
    }
    expect(reads.get('tr:d1')).toBeUndefined();
    expect(['tr:d2', 'tr:d3', 'tr:d4'].map((key) => reads.get(key))).toEqual(['tr:d2', 'tr:d3', 'tr:d4']);
  });

  it('counts weights against its capacity when copies say what they weigh', async () => {
    const weighed = new TrackedReads<string | null>(client, 10);
    try {
      const readWeighing = (key: string, weight: number) =>
        weighed.read(
          key,
          () => weighed.reader.get(key),
          (value) => ({ value, until: FOREVER(), weight }),
        );
      await other.set('tr:w1', '1');
      await other.set('tr:w2', '2');
      await other.set('tr:w3', '3');
      await eventually(() => {
        void readWeighing('tr:w1', 4);
        return weighed.get('tr:w1') !== undefined;
      });
      await readWeighing('tr:w2', 4);
      // 4 + 4 + 5 > 10: the oldest goes; a copy heavier than the whole capacity is never kept.
      await readWeighing('tr:w3', 5);
      expect(['tr:w1', 'tr:w2', 'tr:w3'].map((key) => weighed.get(key))).toEqual([undefined, '2', '3']);
      await readWeighing('tr:w1', 11);
      expect(weighed.get('tr:w1')).toBeUndefined();
      expect(weighed.get('tr:w3')).toBe('3');
    } finally {
      await weighed.close();
    }
  });

  it('drops every copy on a flush of the database', async () => {
    await other.set('tr:e', '1');
    await read('tr:e');
    await other.flushdb();
    await eventually(() => reads.get('tr:e') === undefined);
  });

  it('forget and forgetUnder drop copies at once, without waiting for Redis', async () => {
    await other.set('tr:f:1', '1');
    await other.set('tr:g', '1');
    await read('tr:f:1');
    await read('tr:g');
    reads.forgetUnder('tr:f:');
    expect(reads.get('tr:f:1')).toBeUndefined();
    expect(reads.get('tr:g')).toBe('1');
    reads.forget('tr:g');
    expect(reads.get('tr:g')).toBeUndefined();
  });

  it('changing() drops the copy before the write and again after it, so a read that raced it is not kept', async () => {
    await other.set('tr:h', 'old');
    await read('tr:h');
    expect(reads.get('tr:h')).toBe('old');
    await reads.changing('tr:h', async () => {
      expect(reads.get('tr:h')).toBeUndefined();
      // A read racing the write keeps the old value...
      await read('tr:h');
      await client.set('tr:h', 'new');
    });
    // ...which is gone once the write is done, without waiting for Redis's invalidation.
    expect(reads.get('tr:h')).toBeUndefined();
    await other.set('tr:i:1', '1');
    await read('tr:i:1');
    await reads.changingUnder('tr:i:', async () => {
      expect(reads.get('tr:i:1')).toBeUndefined();
    });
  });

  it('works through an ioredis keyPrefix', async () => {
    const prefixed = new Redis(redisUrl(), { keyPrefix: 'kp:' });
    const prefixedReads = new TrackedReads<string | null>(prefixed, 10);
    try {
      const readP = () => prefixedReads.read('x', () => prefixedReads.reader.get('x'), keep);
      await other.set('kp:x', '1');
      await eventually(() => {
        void readP();
        return prefixedReads.get('x') === '1';
      });
      await other.set('kp:x', '2');
      await eventually(() => prefixedReads.get('x') === undefined);
    } finally {
      await prefixedReads.close();
      prefixed.disconnect();
    }
  });
});
