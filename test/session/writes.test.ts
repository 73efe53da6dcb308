// Field-level writes keep parallel changes, and no write brings back a session that was ended meanwhile.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type SessionMiddleware, session } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { cookieValue, data, keyOf, SECRET, sessionApp, wrap } from './support.js';

const redis = useTestRedis();

describe.each(expressVersions)('%s', (_name, express) => {
  let prefix: string;
  let sessions: SessionMiddleware;
  let app: ReturnType<typeof sessionApp>;

  /** The request `lateWrite` holds: it signals once its session is loaded and waits to be released. */
  let held: { loaded: () => void; release: Promise<void> } | undefined;

  beforeAll(() => {
    prefix = redis.prefix(`w${Math.random().toString(36).slice(2, 6)}:`);
    sessions = session({ redis: redis.client, secret: SECRET, prefix });
    app = sessionApp(express, sessions);
    app.post(
      '/set-late',
      wrap(async (req, res) => {
        const hold = held;
        if (hold === undefined) throw new Error('no lateWrite pending');
        hold.loaded();
        await hold.release;
        data(req).late = 1;
        res.json({ userId: req.session.userId ?? null });
      }),
    );
  });

  /**
   * Starts a request that changes the session, and resolves once its handler runs (so the session was read
   * before whatever the test does next); `finish()` lets it write and answer.
   */
  async function lateWrite(cookie: string) {
    let loaded: () => void = () => {};
    let open: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    const release = new Promise<void>((resolve) => {
      open = resolve;
    });
    held = { loaded, release };
    const response = request(app)
      .post('/set-late')
      .set('Cookie', cookie)
      .then((r) => r);
    await inHandler;
    return {
      finish: () => {
        open();
        return response;
      },
    };
  }

  it('a late write to a session nobody ended does persist (the races below would show it)', async () => {
    const { cookie, key } = await start('a=1');
    const late = await lateWrite(cookie);
    expect((await late.finish()).status).toBe(200);
    expect(await redis.client.hget(key, 'late')).toBe('1');
  });

  async function start(query: string): Promise<{ cookie: string; key: string }> {
    const res = await request(app).post(`/set?${query}`);
    const value = cookieValue(res) as string;
    return { cookie: `sid=${value}`, key: keyOf(prefix, value) };
  }

  it('stores one hash field per top-level key, as JSON', async () => {
    const { key } = await start('cart=3&profile=%7B%22name%22%3A%22ada%22%7D&%40odd=1');
    const hash = await redis.client.hgetall(key);
    expect(hash.cart).toBe('3');
    expect(hash.profile).toBe('{"name":"ada"}');
    // A data key starting with '@' cannot overwrite the meta fields: it gets one more '@'.
    expect(hash['@@odd']).toBe('1');
    expect(Object.keys(hash).filter((f) => /^@[a-z]+$/.test(f))).toEqual(
      expect.arrayContaining(['@c', '@a', '@s']),
    );
  });

  it('any text comes back from Redis as it was set, however it must be escaped on the way', async () => {
    // A read's reply comes back as JSON made by Redis' Lua (see BatchReplies): each of these needs escaping there.
    const text = 'é "q" \\ \n\t\u0000\u001f\u007f / \u2028\u2029 😀 \u{10ffff} \ud800 </script> @a';
    const { cookie } = await start(`text=${encodeURIComponent(JSON.stringify(text))}&n=1e21&t=true`);
    const reads = await Promise.all(
      Array.from({ length: 3 }, () => request(app).get('/state').set('Cookie', cookie)),
    );
    for (const read of reads) expect(read.body.data).toEqual({ text, n: 1e21, t: true });
  });

  it('two parallel requests that change different keys both persist', async () => {
    const { cookie, key } = await start('a=0&b=0');
    // Both read {a:0,b:0} first; the slow one writes last. A whole-session write would undo the fast one.
    const [slow, fast] = await Promise.all([
      request(app).post('/set?a=1&wait=400').set('Cookie', cookie),
      request(app).post('/set?b=2&wait=50').set('Cookie', cookie),
    ]);
    expect(slow.body.data).toEqual({ a: 1, b: 0 });
    expect(fast.body.data).toEqual({ a: 0, b: 2 });
    const after = await request(app).get('/state').set('Cookie', cookie);
    expect(after.body.data).toEqual({ a: 1, b: 2 });
    expect(await redis.client.hmget(key, 'a', 'b')).toEqual(['1', '2']);
  });

  it('a parallel deletion and a parallel change of another key both persist', async () => {
    const { cookie } = await start('a=1&b=1');
    await Promise.all([
      request(app).post('/unset?a').set('Cookie', cookie),
      request(app).post('/set?b=5&wait=300').set('Cookie', cookie),
    ]);
    const after = await request(app).get('/state').set('Cookie', cookie);
    expect(after.body.data).toEqual({ b: 5 });
  });

  it('a request that finishes after a sign-out does not bring the session back', async () => {
    const signedIn = await request(app).post('/sign-in/ada');
    const value = cookieValue(signedIn) as string;
    const cookie = `sid=${value}`;
    const key = keyOf(prefix, value);
    const late = await lateWrite(cookie);
    const out = await request(app).post('/sign-out').set('Cookie', cookie);
    expect(out.status).toBe(200);
    expect((await late.finish()).status).toBe(200);
    expect(await redis.client.exists(key)).toBe(0);
    const after = await request(app).get('/state').set('Cookie', cookie);
    expect(after.body).toMatchObject({ isNew: true, data: {}, userId: null });
    expect(await sessions.listForUser('ada')).toEqual([]);
  });

  it('a request that finishes after destroy does not bring back an anonymous session', async () => {
    const { cookie, key } = await start('a=1');
    const late = await lateWrite(cookie);
    await request(app).post('/destroy').set('Cookie', cookie).expect(200);
    expect((await late.finish()).status).toBe(200);
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('a request that finishes after revoke or revokeAll does not bring the session back', async () => {
    for (const end of [(handle: string) => sessions.revoke('bob', handle), () => sessions.revokeAll('bob')]) {
      const signedIn = await request(app).post('/sign-in/bob');
      const value = cookieValue(signedIn) as string;
      const cookie = `sid=${value}`;
      const late = await lateWrite(cookie);
      await end(signedIn.body.handle);
      expect((await late.finish()).status).toBe(200);
      expect(await redis.client.exists(keyOf(prefix, value))).toBe(0);
      expect((await request(app).get('/state').set('Cookie', cookie)).body.userId).toBeNull();
    }
  });

  it('regenerate of a session revoked meanwhile fails with ERR_SESSION_GONE instead of reviving it', async () => {
    const slowApp = express();
    slowApp.use(sessions);
    slowApp.post('/slow-regenerate', async (req, res, next) => {
      await new Promise((r) => setTimeout(r, 400));
      try {
        await req.session.regenerate();
        res.json({ ok: true });
      } catch (error) {
        next(error);
      }
    });
    slowApp.use(
      (error: { code: string }, _req: unknown, res: { json: (b: unknown) => void }, _next: unknown) => {
        res.json({ error: error.code });
      },
    );
    const signedIn = await request(app).post('/sign-in/cy');
    const cookie = `sid=${cookieValue(signedIn)}`;
    const slow = request(slowApp)
      .post('/slow-regenerate')
      .set('Cookie', cookie)
      .then((r) => r);
    await new Promise((r) => setTimeout(r, 150));
    expect(await sessions.revokeAll('cy')).toBe(1);
    const res = await slow;
    expect(res.body).toEqual({ error: 'ERR_SESSION_GONE' });
    expect(await sessions.listForUser('cy')).toEqual([]);
  });
});
