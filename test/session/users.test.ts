// Signed-in users: sign-in with a new id, the per-user index, device lists, revoke and revokeAll (standalone Redis).
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type SessionMiddleware, session } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { cookieOf, cookieValue, keyOf, OLD_SECRET, SECRET, sessionApp, sleep } from './support.js';

const redis = useTestRedis();

describe.each(expressVersions)('%s', (_name, express) => {
  let prefix: string;
  let sessions: SessionMiddleware;
  let app: ReturnType<typeof sessionApp>;

  beforeAll(() => {
    prefix = redis.prefix(`u${Math.random().toString(36).slice(2, 6)}:`);
    sessions = session({ redis: redis.client, secret: SECRET, prefix });
    app = sessionApp(express, sessions);
  });

  const user = () => `user-${Math.random().toString(36).slice(2, 8)}`;

  async function signIn(userId: string, device = 'Firefox', ip = '203.0.113.7', from?: string) {
    const req = request(app).post(`/sign-in/${userId}`).set('User-Agent', device).set('X-Forwarded-For', ip);
    const res = await (from ? req.set('Cookie', from) : req);
    expect(res.status).toBe(200);
    return { cookie: `sid=${cookieValue(res)}`, value: cookieValue(res) as string, body: res.body };
  }

  it('signIn issues a new id (the old cookie stops working) and keeps the data by default', async () => {
    const anon = await request(app).post('/set?cart=3');
    const anonCookie = `sid=${cookieValue(anon)}`;
    const uid = user();
    const signed = await signIn(uid, 'Firefox', '203.0.113.7', anonCookie);
    expect(signed.value).not.toBe(cookieValue(anon));
    expect(signed.body).toMatchObject({ userId: uid, data: { cart: 3 }, isNew: false });
    const old = await request(app).get('/state').set('Cookie', anonCookie);
    expect(old.body).toMatchObject({ isNew: true, data: {}, userId: null });
    expect(await redis.client.exists(keyOf(prefix, cookieValue(anon) as string))).toBe(0);
    const now = await request(app).get('/state').set('Cookie', signed.cookie);
    expect(now.body).toMatchObject({ userId: uid, data: { cart: 3 } });
  });

  it('signIn can keep none or some of the data', async () => {
    const anon = await request(app).post('/set?cart=3&csrf=%22t%22&tmp=1');
    const cookie = `sid=${cookieValue(anon)}`;
    const some = await request(app).post(`/sign-in/${user()}?keep=cart,csrf`).set('Cookie', cookie);
    expect(some.body.data).toEqual({ cart: 3, csrf: 't' });
    const again = await request(app).post('/set?cart=3');
    const none = await request(app)
      .post(`/sign-in/${user()}?keep=false`)
      .set('Cookie', `sid=${cookieValue(again)}`);
    expect(none.body.data).toEqual({});
  });

  it("a signed-in session and its user's index share a hash tag that does not reveal the user id", async () => {
    const uid = 'alice@example.com';
    const { value } = await signIn(uid);
    const key = keyOf(prefix, value);
    const tag = /\{([^}]+)\}/.exec(key)?.[1] as string;
    expect(tag).toHaveLength(22);
    expect(await redis.client.type(`${prefix}{${tag}}:index`)).toBe('zset');
    expect(await redis.client.pttl(`${prefix}{${tag}}:index`)).toBeGreaterThan(0);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      keys.push(...page);
    } while (cursor !== '0');
    // the scan saw this user's session and index, and no key names the user
    expect(keys).toContain(key);
    expect(keys).toContain(`${prefix}{${tag}}:index`);
    expect(keys.filter((k) => k.includes('alice'))).toEqual([]);
  });

  it('listForUser reports device metadata and flags the current session', async () => {
    const uid = user();
    const laptop = await signIn(uid, 'Firefox/128', '203.0.113.7');
    await sleep(20);
    const phone = await signIn(uid, 'Mobile Safari', '198.51.100.4');
    const res = await request(app).get(`/devices/${uid}`).set('Cookie', phone.cookie);
    const rows = res.body as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(2);
    const [first, second] = rows as [Record<string, unknown>, Record<string, unknown>];
    expect(first).toMatchObject({
      handle: phone.body.handle,
      userAgent: 'Mobile Safari',
      ip: '198.51.100.4',
      current: true,
    });
    expect(second).toMatchObject({
      handle: laptop.body.handle,
      userAgent: 'Firefox/128',
      ip: '203.0.113.7',
      current: false,
    });
    for (const row of rows) {
      const created = Date.parse(row.createdAt as string);
      const seen = Date.parse(row.lastSeenAt as string);
      const expires = Date.parse(row.expiresAt as string);
      expect(Math.abs(created - Date.now())).toBeLessThan(10_000);
      expect(seen).toBeGreaterThanOrEqual(created);
      expect(expires - seen).toBeGreaterThan(29 * 60_000);
      expect(expires - seen).toBeLessThanOrEqual(30 * 60_000);
    }
    // Direct calls return Dates.
    const direct = await sessions.listForUser(uid);
    expect(direct[0]?.createdAt).toBeInstanceOf(Date);
    expect(direct.every((r) => r.current === false)).toBe(true);
  });

  it('lastSeenAt moves with use', async () => {
    const uid = user();
    const device = await signIn(uid);
    const [before] = await sessions.listForUser(uid);
    await sleep(30);
    await request(app).get('/state').set('Cookie', device.cookie);
    const [after] = await sessions.listForUser(uid);
    expect(after?.lastSeenAt.getTime()).toBeGreaterThan(before?.lastSeenAt.getTime() as number);
  });

  it('listForUser prunes entries of sessions that ended (idle expiry, deletion)', async () => {
    const uid = user();
    const shortPrefix = redis.prefix(`short${Math.random().toString(36).slice(2, 6)}:`);
    const short = session({ redis: redis.client, secret: SECRET, prefix: shortPrefix, idleTimeout: '1s' });
    const shortApp = sessionApp(express, short);
    const a = await request(shortApp).post(`/sign-in/${uid}`);
    await request(shortApp).post(`/sign-in/${uid}`);
    const index = /^[^{]*\{[^}]+\}:/.exec(keyOf(shortPrefix, cookieValue(a) as string))?.[0] as string;
    expect(await redis.client.zcard(`${index}index`)).toBe(2);
    await sleep(1_300);
    expect(await short.listForUser(uid)).toEqual([]);
    expect(await redis.client.zcard(`${index}index`)).toBe(0);
  });

  it('revoke ends one device: that browser is anonymous on its next request', async () => {
    const uid = user();
    const laptop = await signIn(uid);
    const phone = await signIn(uid);
    expect(await sessions.revoke(uid, laptop.body.handle)).toBe(true);
    expect(await sessions.revoke(uid, laptop.body.handle)).toBe(false);
    const next = await request(app).get('/state').set('Cookie', laptop.cookie);
    expect(next.body).toMatchObject({ userId: null, isNew: true });
    expect(cookieOf(next)).toMatch(/^sid=; Max-Age=0/);
    expect((await request(app).get('/state').set('Cookie', phone.cookie)).body.userId).toBe(uid);
    expect((await sessions.listForUser(uid)).map((r) => r.handle)).toEqual([phone.body.handle]);
  });

  it("revoke refuses another user's session and malformed handles", async () => {
    const victim = user();
    const { body, cookie } = await signIn(victim);
    expect(await sessions.revoke(user(), body.handle)).toBe(false);
    expect(await sessions.revoke(victim, 'not-a-handle')).toBe(false);
    expect(await sessions.revoke(victim, `${body.handle}}`)).toBe(false);
    expect((await request(app).get('/state').set('Cookie', cookie)).body.userId).toBe(victim);
  });

  it('revokeAll ends every session of the user, or all but one', async () => {
    const uid = user();
    const devices = [await signIn(uid), await signIn(uid), await signIn(uid)];
    const other = await signIn(user());
    const keep = devices[0] as (typeof devices)[number];
    expect(await sessions.revokeAll(uid, { except: keep.body.handle })).toBe(2);
    expect((await sessions.listForUser(uid)).map((r) => r.handle)).toEqual([keep.body.handle]);
    for (const device of devices.slice(1)) {
      expect((await request(app).get('/state').set('Cookie', device.cookie)).body.userId).toBeNull();
    }
    expect((await request(app).get('/state').set('Cookie', keep.cookie)).body.userId).toBe(uid);
    expect(await sessions.revokeAll(uid)).toBe(1);
    expect(await sessions.listForUser(uid)).toEqual([]);
    expect((await request(app).get('/state').set('Cookie', other.cookie)).body.userId).not.toBeNull();
  });

  it('regenerate gives a new id in the same slot, keeps data and user, and replaces the index entry', async () => {
    const uid = user();
    const signed = await signIn(uid);
    await request(app).post('/set?cart=9').set('Cookie', signed.cookie);
    const regen = await request(app).post('/regenerate').set('Cookie', signed.cookie);
    expect(regen.body).toMatchObject({ userId: uid, data: { cart: 9 } });
    expect(regen.body.handle).not.toBe(signed.body.handle);
    const newValue = cookieValue(regen) as string;
    expect(newValue.slice(0, 22)).toBe(signed.value.slice(0, 22));
    expect((await request(app).get('/state').set('Cookie', signed.cookie)).body.userId).toBeNull();
    const rows = await sessions.listForUser(uid);
    expect(rows.map((r) => r.handle)).toEqual([regen.body.handle]);
    expect(rows[0]?.userAgent).toBe('Firefox');
  });

  it('regenerate of an anonymous session: new id, old one dead, data kept unless told otherwise', async () => {
    const anon = await request(app).post('/set?cart=1&tmp=2');
    const cookie = `sid=${cookieValue(anon)}`;
    const regen = await request(app).post('/regenerate?keep=cart').set('Cookie', cookie);
    expect(regen.body.data).toEqual({ cart: 1 });
    expect(cookieValue(regen)).not.toBe(cookieValue(anon));
    expect((await request(app).get('/state').set('Cookie', cookie)).body.isNew).toBe(true);
    expect(
      (
        await request(app)
          .get('/state')
          .set('Cookie', `sid=${cookieValue(regen)}`)
      ).body.data,
    ).toEqual({ cart: 1 });
  });

  it('signOut ends the session and removes it from the index; signing in as someone else leaves the old index', async () => {
    const uid = user();
    const a = await signIn(uid);
    const out = await request(app).post('/sign-out').set('Cookie', a.cookie);
    expect(out.body).toMatchObject({ userId: null, data: {} });
    expect(cookieOf(out)).toMatch(/^sid=; Max-Age=0/);
    expect(await sessions.listForUser(uid)).toEqual([]);

    const b = await signIn(uid);
    const other = user();
    const switched = await signIn(other, 'Firefox', '203.0.113.7', b.cookie);
    expect(switched.body.userId).toBe(other);
    expect(await sessions.listForUser(uid)).toEqual([]);
    expect(await sessions.listForUser(other)).toHaveLength(1);
  });

  it('maxSessionsPerUser ends the oldest session when a new sign-in exceeds it', async () => {
    const limited = session({ redis: redis.client, secret: SECRET, prefix, maxSessionsPerUser: 2 });
    const limitedApp = sessionApp(express, limited);
    const uid = user();
    const cookies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(limitedApp).post(`/sign-in/${uid}`);
      cookies.push(`sid=${cookieValue(res)}`);
      await sleep(5);
    }
    expect(await limited.listForUser(uid)).toHaveLength(2);
    expect(
      (
        await request(limitedApp)
          .get('/state')
          .set('Cookie', cookies[0] as string)
      ).body.userId,
    ).toBeNull();
    expect(
      (
        await request(limitedApp)
          .get('/state')
          .set('Cookie', cookies[2] as string)
      ).body.userId,
    ).toBe(uid);
  });

  it('after a secret rotation, sessions signed in under the old secret stay listed and revocable', async () => {
    const rotPrefix = redis.prefix(`rot${Math.random().toString(36).slice(2, 6)}:`);
    const before = sessionApp(
      express,
      session({ redis: redis.client, secret: OLD_SECRET, prefix: rotPrefix }),
    );
    const rotated = session({ redis: redis.client, secret: [SECRET, OLD_SECRET], prefix: rotPrefix });
    const after = sessionApp(express, rotated);
    const uid = user();
    const oldDevice = await request(before).post(`/sign-in/${uid}`);
    const newDevice = await request(after).post(`/sign-in/${uid}`);
    const rows = await rotated.listForUser(uid);
    expect(rows.map((r) => r.handle).sort()).toEqual([oldDevice.body.handle, newDevice.body.handle].sort());
    expect(await rotated.revokeAll(uid)).toBe(2);
    const oldCookie = `sid=${cookieValue(oldDevice)}`;
    expect((await request(after).get('/state').set('Cookie', oldCookie)).body.userId).toBeNull();
  });

  it('invalid user ids are refused with ERR_SESSION_USER_ID', async () => {
    await expect(sessions.listForUser('')).rejects.toMatchObject({ code: 'ERR_SESSION_USER_ID' });
    await expect(sessions.revokeAll(Number.NaN)).rejects.toMatchObject({ code: 'ERR_SESSION_USER_ID' });
    const res = await request(app).post(`/sign-in/${'x'.repeat(300)}`);
    expect(res.body).toEqual({ error: 'ERR_SESSION_USER_ID' });
  });
});
