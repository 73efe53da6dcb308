// The suite runs on the ioredis major it claims (6 by default, 5 with IOREDIS=5), over that major's protocol.
import { describe, expect, it } from 'vitest';
import { ioredisVersion } from '../helpers/ioredis-version.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

describe('ioredis under test', () => {
  it('is the major IOREDIS selects, speaking RESP3 on 6 and RESP2 on 5', async () => {
    const major = process.env.IOREDIS ?? '6';
    expect(ioredisVersion().split('.')[0]).toBe(major);
    const info = String(await redis.client.call('CLIENT', 'INFO'));
    expect(info).toMatch(major === '6' ? /\bresp=3\b/ : /\bresp=2\b/);
  });
});
