// Expiry: the idle timeout slides, the absolute one does not, and the cookie's lifetime matches Redis.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { cookieOf, cookieValue, keyOf, maxAgeOf, SECRET, sessionApp, sleep } from './support.js';

const redis = useTestRedis();
const [, express5] = expressVersions[1] as (typeof expressVersions)[number];

function appWith(idleTimeout: number, absoluteTimeout: number, touchAfter = 0) {
  const prefix = redis.prefix(`x${Math.random().toString(36).slice(2, 6)}:`);
  const app = sessionApp(
    express5,
    session({ redis: redis.client, secret: SECRET, prefix, idleTimeout, absoluteTimeout, touchAfter }),
  );
  return { app, prefix };
}

/** The cookie's Max-Age must say what Redis says: never longer, and shorter only by the rounding to seconds. */
async function expectCookieMatchesRedis(res: request.Response, key: string): Promise<void> {
  const pttl = await redis.client.pttl(key);
  const maxAgeMs = (maxAgeOf(res) as number) * 1000;
  expect(pttl).toBeGreaterThan(0);
  expect(maxAgeMs).toBeLessThanOrEqual(pttl + 20);
  expect(pttl - maxAgeMs).toBeLessThan(1_500);
  const expires = Date.parse(/Expires=([^;]+)/.exec(cookieOf(res) as string)?.[1] as string);
  expect(Math.abs(expires - (Date.now() + maxAgeMs))).toBeLessThan(2_000);
}

describe('expiry', () => {
  it('the idle timeout slides with activity and ends an idle session', async () => {
    const { app, prefix } = appWith(2_000, 60_000);
    const created = await request(app).post('/set?cart=1');
    const cookie = `sid=${cookieValue(created)}`;
    const key = keyOf(prefix, cookieValue(created) as string);
    expect(maxAgeOf(created)).toBe(2);
    await expectCookieMatchesRedis(created, key);
    // 1.2 s + 1.2 s = 2.4 s: past the 2 s idle timeout, alive only because each request slid it.
    for (let i = 0; i < 2; i++) {
      await sleep(1_200);
      const res = await request(app).get('/state').set('Cookie', cookie);
      expect(res.body.data).toEqual({ cart: 1 });
      await expectCookieMatchesRedis(res, key);
    }
    await sleep(2_600);
    const after = await request(app).get('/state').set('Cookie', cookie);
    expect(after.body).toMatchObject({ isNew: true, data: {} });
    // The stale cookie is deleted rather than sent again and again.
    expect(cookieOf(after)).toMatch(/^sid=; Max-Age=0/);
  });

  it('the absolute timeout ends an active session, and the cookie is capped by it', async () => {
    const { app, prefix } = appWith(2_500, 4_000);
    const created = await request(app).post('/set?cart=1');
    const cookie = `sid=${cookieValue(created)}`;
    const key = keyOf(prefix, cookieValue(created) as string);
    await sleep(1_200);
    const first = await request(app).get('/state').set('Cookie', cookie);
    expect(first.body.data).toEqual({ cart: 1 });
    expect(maxAgeOf(first)).toBe(2);
    await sleep(1_200);
    const capped = await request(app).get('/state').set('Cookie', cookie);
    expect(capped.body.data).toEqual({ cart: 1 });
    // At most 1.6 s remain before the absolute deadline: less than the 2.5 s idle timeout, in Redis and cookie.
    expect(maxAgeOf(capped)).toBeLessThan(2);
    expect(await redis.client.pttl(key)).toBeLessThan(1_700);
    await expectCookieMatchesRedis(capped, key);
    await sleep(2_000);
    // Used about 2 s ago (inside the idle timeout), but more than 4 s after creation.
    const after = await request(app).get('/state').set('Cookie', cookie);
    expect(after.body).toMatchObject({ isNew: true, data: {} });
  });

  it('the absolute deadline is also checked by the server, not only by the key TTL', async () => {
    const { app, prefix } = appWith(60_000, 120_000);
    const created = await request(app).post('/set?cart=1');
    const key = keyOf(prefix, cookieValue(created) as string);
    await redis.client.hset(key, '@a', String(Date.now() - 1_000));
    await redis.client.persist(key);
    const res = await request(app)
      .get('/state')
      .set('Cookie', `sid=${cookieValue(created)}`);
    expect(res.body).toMatchObject({ isNew: true, data: {} });
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('with touchAfter, the cookie is only re-sent when Redis slid the expiry, and both still agree', async () => {
    const { app, prefix } = appWith(3_000, 60_000, 1_000);
    const created = await request(app).post('/set?cart=1');
    const cookie = `sid=${cookieValue(created)}`;
    const key = keyOf(prefix, cookieValue(created) as string);
    const soon = await request(app).get('/state').set('Cookie', cookie);
    expect(cookieOf(soon)).toBeUndefined();
    await sleep(1_300);
    const later = await request(app).get('/state').set('Cookie', cookie);
    expect(maxAgeOf(later)).toBeGreaterThanOrEqual(2);
    await expectCookieMatchesRedis(later, key);
  });
});
