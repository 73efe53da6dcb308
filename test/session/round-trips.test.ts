// Redis commands per request and per admin call, row by row as the sessions docs list them, counted on a
// dedicated server from every connection, on Express 4 and 5.
import type { Redis } from 'ioredis';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { sha256 } from '../../src/redis/index.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { expressVersions } from '../helpers/express.js';
import { cookieOf, cookieValue, maxAgeOf, OLD_SECRET, SECRET, sessionApp } from './support.js';

const counting = useCountingServer();
const count = counting.count;
const SCRIPT = ['eval', 'evalsha'];

describe.each(expressVersions)('%s', (name, express) => {
  let client: Redis;
  let prefix: string;
  let sessions: ReturnType<typeof session>;
  let app: ReturnType<typeof sessionApp>;

  beforeAll(async () => {
    client = counting.client;
    await client.ping();
    prefix = `rt${name.replace(/\D/g, '')}:`;
    sessions = session({ redis: client, secret: SECRET, prefix, idleTimeout: '10m' });
    app = sessionApp(express, sessions);
  });

  it('a new visitor whose session stays empty costs 0 commands and gets no Set-Cookie', async () => {
    const { result, commands, processed } = await count(() => request(app).get('/state'));
    expect(result.status).toBe(200);
    expect(result.body.isNew).toBe(true);
    expect(commands).toEqual([]);
    // nothing reached the server on any connection
    expect(processed).toBe(0);
    expect(result.headers['set-cookie']).toBeUndefined();
  });

  it('a new visitor who stores data costs exactly 1 command (create) and gets the cookie', async () => {
    const { result, commands } = await count(() => request(app).post('/set?cart=3'));
    expect(commands.map((c) => c[0])).toHaveLength(1);
    expect(['eval', 'evalsha']).toContain(commands[0]?.[0]);
    expect(cookieOf(result)).toBeDefined();
    expect(maxAgeOf(result)).toBe(600);
  });

  it('a returning read-only visitor costs exactly 1 command, which reads and slides the idle timeout', async () => {
    const created = await request(app).post('/set?cart=3');
    const value = cookieValue(created) as string;
    const key = prefix + sha256(value.slice(0, value.lastIndexOf('.')));
    await client.pexpire(key, 5_000);

    const { result, commands } = await count(() => request(app).get('/state').set('Cookie', `sid=${value}`));
    expect(result.body.data).toEqual({ cart: 3 });
    expect(commands).toHaveLength(1);
    expect(['eval', 'evalsha']).toContain(commands[0]?.[0]);
    expect(commands[0]).toContain(key);
    // The same command slid the TTL back to the idle timeout, and the cookie says so.
    expect(await client.pttl(key)).toBeGreaterThan(590_000);
    expect(maxAgeOf(result)).toBeGreaterThanOrEqual(599);
  });

  it('a modified session costs at most 2 commands: the read and a write of the changed field only', async () => {
    const created = await request(app).post('/set?cart=3&name=%22ada%22');
    const cookie = `sid=${cookieValue(created)}`;
    const { result, commands } = await count(() => request(app).post('/set?cart=4').set('Cookie', cookie));
    expect(result.body.data).toEqual({ cart: 4, name: 'ada' });
    expect(commands).toHaveLength(2);
    const write = commands[1] as string[];
    expect(write).toContain('cart');
    expect(write).toContain('4');
    expect(write).not.toContain('name');
  });

  it('a request that changes nothing it read writes nothing (setting the same value is no change)', async () => {
    const created = await request(app).post('/set?cart=3');
    const cookie = `sid=${cookieValue(created)}`;
    const { commands } = await count(() => request(app).post('/set?cart=3').set('Cookie', cookie));
    expect(commands).toHaveLength(1);
  });

  it('with touchAfter, a read inside the interval is still 1 command but neither slides nor sends a cookie', async () => {
    const throttled = sessionApp(
      express,
      session({ redis: client, secret: SECRET, prefix, idleTimeout: '10m', touchAfter: '1m' }),
    );
    const created = await request(throttled).post('/set?cart=3');
    const value = cookieValue(created) as string;
    const key = prefix + sha256(value.slice(0, value.lastIndexOf('.')));
    await client.pexpire(key, 500_000);
    const { result, commands } = await count(() =>
      request(throttled).get('/state').set('Cookie', `sid=${value}`),
    );
    expect(result.body.data).toEqual({ cart: 3 });
    expect(commands).toHaveLength(1);
    expect(cookieOf(result)).toBeUndefined();
    expect(await client.pttl(key)).toBeLessThanOrEqual(500_000);
  });
  it('signIn costs 1 more, plus 1 to end the anonymous session it replaces', async () => {
    // a new visitor signing in: no read, one create in the user's slot with its index entry
    const fresh = await count(() => request(app).post(`/sign-in/new-${name}`));
    expect(fresh.result.body.userId).toBe(`new-${name}`);
    expect(fresh.commands).toHaveLength(1);
    expect(SCRIPT).toContain(fresh.commands[0]?.[0]);
    // a visitor with an anonymous session: the read, the create, the end of the anonymous session
    const anonymous = await request(app).post('/set?cart=1');
    const { result, commands } = await count(() =>
      request(app)
        .post(`/sign-in/anon-${name}`)
        .set('Cookie', `sid=${cookieValue(anonymous)}`),
    );
    expect(result.body.userId).toBe(`anon-${name}`);
    expect(commands).toHaveLength(3);
  });

  it('signOut and regenerate of a signed-in session cost 1 more each', async () => {
    for (const path of ['/sign-out', '/regenerate']) {
      const signedIn = await request(app).post(`/sign-in/out-${name}`);
      const { result, commands } = await count(() =>
        request(app)
          .post(path)
          .set('Cookie', `sid=${cookieValue(signedIn)}`),
      );
      expect(result.status, path).toBe(200);
      // the read of the session, then one call
      expect(commands, path).toHaveLength(2);
    }
  });

  it('listForUser, revoke and revokeAll cost 1 each, and 1 per secret while secrets are rotated', async () => {
    const user = `admin-${name}`;
    const a = await request(app).post(`/sign-in/${user}`);
    await request(app).post(`/sign-in/${user}`);
    const listed = await count(() => sessions.listForUser(user));
    expect(listed.result).toHaveLength(2);
    expect(listed.commands).toHaveLength(1);
    const revoked = await count(() => sessions.revoke(user, a.body.handle));
    expect(revoked.result).toBe(true);
    expect(revoked.commands).toHaveLength(1);
    const all = await count(() => sessions.revokeAll(user));
    expect(all.result).toBe(1);
    expect(all.commands).toHaveLength(1);

    const rotating = session({ redis: client, secret: [SECRET, OLD_SECRET], prefix, idleTimeout: '10m' });
    const rotated = sessionApp(express, rotating);
    const b = await request(rotated).post(`/sign-in/${user}`);
    expect((await count(() => rotating.listForUser(user))).commands).toHaveLength(2);
    expect((await count(() => rotating.revoke(user, b.body.handle))).commands).toHaveLength(2);
    expect((await count(() => rotating.revokeAll(user))).commands).toHaveLength(2);
  });
});
