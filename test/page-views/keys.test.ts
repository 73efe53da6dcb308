// The key schema: one hash tag, a TTL on every key from `retention`, and no visitor identifier ever sent to Redis.
import express from 'express';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { recordCommands } from '../helpers/commands.js';
import { useTestRedis } from '../helpers/redis.js';
import { configOf, HTML_PAGE, scriptSrc } from './support.js';

const redis = useTestRedis();
const open: PageViewsMiddleware[] = [];
afterAll(async () => {
  await Promise.all(open.map((v) => v.close().catch(() => {})));
});

const DAY = 86_400_000;
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Zq7f3aMarker';

async function scanAll(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

describe('keys', () => {
  it('puts every key under one hash tag with a TTL from retention, and sends no visitor identifier', async () => {
    const prefix = redis.prefix('schema:');
    const client = redis.connect();
    await client.ping();
    const views = pageViews({
      redis: client,
      prefix,
      flushInterval: '1h',
      retention: { day: '3d', month: '40d' },
      secret: 'keys-test-secret-0123456789abcdefghijklmn',
    });
    open.push(views);
    const app = express();
    app.set('trust proxy', true);
    app.use(views);
    app.get('/p/:id', (req, res) => {
      res.send(`${HTML_PAGE}${views.scriptTag(req)}`);
    });

    const recorder = await recordCommands(client);
    const page = await request(app)
      .get('/p/1')
      .set('user-agent', UA)
      .set('x-forwarded-for', '203.0.113.77')
      .expect(200);
    const script = await request(app).get(scriptSrc(page.text)).expect(200);
    await request(app)
      .post('/_pv')
      .set('content-type', 'text/plain')
      .send(JSON.stringify({ t: configOf(script.text).t, s: 1, ms: 1_000 }))
      .expect(204);
    await views.flush();
    const commands = await recorder.stop();

    // neither the address nor the user agent left the process: only salted hashes did
    const sent = commands.flat().join('\n');
    expect(sent).not.toContain('203.0.113.77');
    expect(sent).not.toContain('Zq7f3aMarker');

    const keys = await scanAll(prefix);
    const tag = `${prefix}{${prefix.slice(0, -1)}}:`;
    expect(keys.every((k) => k.startsWith(tag))).toBe(true);
    const kinds = new Set(keys.map((k) => k.slice(tag.length).split(':')[0]));
    expect([...kinds].sort()).toEqual(['d', 'f', 'k', 'lu', 'lv', 'm', 'salt', 't', 'u', 'w', 'y']);
    for (const key of keys) {
      const ttl = await redis.client.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
    }
    for (const key of keys) {
      const type = await redis.client.type(key);
      const content =
        type === 'hash'
          ? JSON.stringify(await redis.client.hgetall(key))
          : String(await redis.client.get(key));
      expect(content).not.toContain('203.0.113.77');
      expect(content).not.toContain('Zq7f3aMarker');
    }

    const now = Date.now();
    const today = new Date(now).toISOString().slice(0, 10);
    const endOfToday = Date.parse(`${today}T00:00:00Z`) + DAY;
    // the absolute expiry (PEXPIRETIME), which does not depend on Redis's clock agreeing with this one
    const expiresAt = async (suffix: string) =>
      Number(await redis.client.call('PEXPIRETIME', `${tag}${suffix}`));
    const near = (actual: number, expected: number) =>
      expect(Math.abs(actual - expected)).toBeLessThan(60_000);
    // retention counts from the end of the period (+14 h, the largest UTC offset)
    near(await expiresAt(`d:${today}`), endOfToday + 14 * 3_600_000 + 3 * DAY);
    near(await expiresAt(`u:d:${today}:/p/:id`), endOfToday + 14 * 3_600_000 + 3 * DAY);
    near(await expiresAt(`t:d:${today}`), endOfToday + 14 * 3_600_000 + 3 * DAY);
    const monthEnd = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + 1, 1);
    near(await expiresAt(`m:${today.slice(0, 7)}`), monthEnd + 14 * 3_600_000 + 40 * DAY);
    // the defaults for the others: weeks 52 weeks, years 3650 days after their end
    const yearEnd = Date.UTC(new Date(now).getUTCFullYear() + 1, 0, 1);
    near(await expiresAt(`y:${today.slice(0, 4)}`), yearEnd + 14 * 3_600_000 + 3_650 * DAY);
    // salts live until two days after their period, so a day's visitors cannot be linked to the next day's
    near(await expiresAt(`salt:d:${today}`), endOfToday + 14 * 3_600_000 + 2 * DAY);
  });
});
