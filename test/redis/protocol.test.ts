// The suite runs on the ioredis major it claims (6 by default, 5 with IOREDIS=5), over that major's protocol.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ioredisVersion } from '../helpers/ioredis-version.js';
import { redisUrl, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const major = process.env.IOREDIS ?? '6';
const protocol = major === '6' ? /\bresp=3\b/ : /\bresp=2\b/;

const CHILD = `
import { Redis } from 'ioredis';
const client = new Redis(process.env.REDIS_URL);
console.log(await client.call('CLIENT', 'INFO'));
client.disconnect();
`;

describe('ioredis under test', () => {
  it('is the major IOREDIS selects, speaking RESP3 on 6 and RESP2 on 5', async () => {
    expect(ioredisVersion().split('.')[0]).toBe(major);
    expect(String(await redis.client.call('CLIENT', 'INFO'))).toMatch(protocol);
  });

  it('is the same major in the Node processes tests start (apps under test in their own process)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '--eval', CHILD], {
      env: { ...process.env, REDIS_URL: redisUrl() },
    });
    expect(stdout).toMatch(protocol);
  });
});
