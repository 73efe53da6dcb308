// The express-session surface of req.session: callback forms, reload, touch, req.sessionID, req.session.cookie.
import type { Request } from 'express';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type SessionCallback, type SessionMiddleware, session } from '../../src/index.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import {
  answerErrorCode,
  cookieOf,
  cookieValue,
  data,
  keyOf,
  maxAgeOf,
  SECRET,
  sleep,
  wrap,
} from './support.js';

const redis = useTestRedis();

/** A callback-style call as a promise of the error it was called back with (undefined on success). */
function called(start: (callback: SessionCallback) => unknown): Promise<unknown> {
  return new Promise((resolve) => {
    start((error?: unknown) => resolve(error));
  });
}

function errorOf(error: unknown): string | null {
  return error === undefined || error === null ? null : ((error as { code?: string }).code ?? String(error));
}

/**
 * Routes, each answering JSON:
 * - `POST /set?k=v`, `GET /state`
 * - `POST /cb/regenerate`, `POST /cb/save?k=v&wait=ms`, `POST /cb/destroy`, `POST /cb/reload?k=v&wait=ms`
 * - `POST /touch`, `GET /cookie`, `POST /max-age?ms=n|null`, `POST /expires?at=ms|false`, `POST /reserved?name=x`
 */
function apiApp(express: ExpressFactory, sessions: SessionMiddleware) {
  const app = express();
  app.use(sessions);
  const state = (req: Request) => ({
    data: req.session === undefined ? null : { ...req.session },
    id: req.session?.id ?? null,
    sessionID: req.sessionID ?? null,
    userId: req.session?.userId ?? null,
  });
  const setQuery = (req: Request) => {
    for (const [key, value] of Object.entries(req.query)) if (key !== 'wait') data(req)[key] = value;
  };
  app.post('/set', (req, res) => {
    setQuery(req);
    res.json(state(req));
  });
  app.get('/state', (req, res) => {
    res.json(state(req));
  });
  app.post(
    '/sign-in/:user',
    wrap(async (req, res) => {
      await req.session.signIn(String(req.params.user), {
        maxAge: req.query.maxAge === undefined ? undefined : JSON.parse(String(req.query.maxAge)),
      });
      res.json(state(req));
    }),
  );
  app.post(
    '/cb/regenerate',
    wrap(async (req, res) => {
      const before = req.session;
      const oldId = req.sessionID;
      let returned: unknown;
      const error = await called((cb) => {
        returned = req.session.regenerate(cb);
      });
      res.json({
        error: errorOf(error),
        returnedSelf: returned === before,
        replaced: req.session !== before,
        oldData: { ...before },
        oldId,
        ...state(req),
      });
    }),
  );
  app.post(
    '/cb/save',
    wrap(async (req, res) => {
      setQuery(req);
      if (req.query.wait) await sleep(Number(req.query.wait));
      const error = await called((cb) => req.session.save(cb));
      res.json({ error: errorOf(error), ...state(req) });
    }),
  );
  app.post(
    '/cb/destroy',
    wrap(async (req, res) => {
      const error = await called((cb) => req.session.destroy(cb));
      res.json({ error: errorOf(error), unset: req.session === undefined, ...state(req) });
    }),
  );
  app.post(
    '/cb/reload',
    wrap(async (req, res) => {
      setQuery(req);
      if (req.query.wait) await sleep(Number(req.query.wait));
      const error = await called((cb) => req.session.reload(cb));
      res.json({ error: errorOf(error), ...state(req) });
    }),
  );
  app.post('/touch', (req, res) => {
    res.json({ returnedSelf: req.session.touch() === req.session });
  });
  app.get('/cookie', (req, res) => {
    const { cookie } = req.session;
    res.json({
      maxAge: cookie.maxAge,
      expires: cookie.expires?.getTime() ?? null,
      originalMaxAge: cookie.originalMaxAge,
      httpOnly: cookie.httpOnly,
      secure: cookie.secure,
      sameSite: cookie.sameSite,
      path: cookie.path,
      domain: cookie.domain ?? null,
      json: JSON.parse(JSON.stringify(cookie)),
      sessionJson: JSON.parse(JSON.stringify(req.session)),
    });
  });
  app.post('/max-age', (req, res) => {
    setQuery(req);
    delete data(req).ms;
    req.session.cookie.maxAge = JSON.parse(String(req.query.ms));
    res.json({ maxAge: req.session.cookie.maxAge });
  });
  app.post('/expires', (req, res) => {
    req.session.cookie.expires =
      req.query.at === 'false' ? false : new Date(Date.now() + Number(req.query.at));
    res.json({ maxAge: req.session.cookie.maxAge });
  });
  app.post('/reserved', (req, res) => {
    const name = String(req.query.name);
    data(req).cart = 1;
    if (name.startsWith('cookie.')) {
      (req.session.cookie as unknown as Record<string, unknown>)[name.slice(7)] = 'x';
    } else {
      data(req)[name] = 'x';
    }
    res.json({ assigned: true });
  });
  app.use(answerErrorCode);
  return app;
}

describe.each(expressVersions)('%s', (_name, express) => {
  let prefix: string;
  let app: ReturnType<typeof apiApp>;

  beforeAll(() => {
    prefix = redis.prefix(`a${Math.random().toString(36).slice(2, 6)}:`);
    app = apiApp(express, session({ redis: redis.client, secret: SECRET, prefix, absoluteTimeout: '1d' }));
  });

  async function stored(query = 'cart=1') {
    const res = await request(app).post(`/set?${query}`).expect(200);
    const value = cookieValue(res) as string;
    return { cookie: `sid=${value}`, value, key: keyOf(prefix, value), body: res.body };
  }

  it('regenerate(cb) calls back with a new, empty session; the old id stops working', async () => {
    const old = await stored('cart=1');
    const res = await request(app).post('/cb/regenerate').set('Cookie', old.cookie).expect(200);
    expect(res.body).toMatchObject({ error: null, returnedSelf: true, replaced: true, data: {} });
    // The object the caller held still has the old data, to copy from (Passport's keepSessionInfo).
    expect(res.body.oldData).toEqual({ cart: '1' });
    expect(res.body.oldId).toBe(old.value.slice(0, old.value.lastIndexOf('.')));
    expect(res.body.sessionID).toBe(res.body.id);
    expect(res.body.id).not.toBe(res.body.oldId);
    expect(await redis.client.exists(old.key)).toBe(0);
    const after = await request(app).get('/state').set('Cookie', old.cookie).expect(200);
    expect(after.body.data).toEqual({});
    // Nothing was stored in the new session, so the browser's cookie is deleted.
    expect(cookieOf(res)).toMatch(/^sid=; Max-Age=0/);
  });

  it('regenerate(cb) of a signed-in session signs the user out of it', async () => {
    const signed = await request(app).post('/sign-in/ann').expect(200);
    const value = cookieValue(signed) as string;
    const res = await request(app).post('/cb/regenerate').set('Cookie', `sid=${value}`).expect(200);
    expect(res.body).toMatchObject({ error: null, userId: null, data: {} });
    expect(await redis.client.exists(keyOf(prefix, value))).toBe(0);
  });

  it('save(cb) writes before calling back, and reports a session ended meanwhile instead of reviving it', async () => {
    const old = await stored('cart=1');
    const res = await request(app).post('/cb/save?cart=2').set('Cookie', old.cookie).expect(200);
    expect(res.body.error).toBeNull();
    expect(await redis.client.hget(old.key, 'cart')).toBe('"2"');

    const slow = request(app)
      .post('/cb/save?cart=3&wait=800')
      .set('Cookie', old.cookie)
      .then((r) => r);
    await sleep(100);
    await request(app).post('/cb/destroy').set('Cookie', old.cookie).expect(200);
    const late = await slow;
    expect(late.body.error).toBe('ERR_SESSION_GONE');
    expect(await redis.client.exists(old.key)).toBe(0);
  });

  it('save(cb) stores a new session at once, with its cookie', async () => {
    const res = await request(app).post('/cb/save?cart=5').expect(200);
    expect(res.body.error).toBeNull();
    const value = cookieValue(res) as string;
    expect(await redis.client.hget(keyOf(prefix, value), 'cart')).toBe('"5"');
    expect(res.body.sessionID).toBe(value.slice(0, value.lastIndexOf('.')));
  });

  it('destroy(cb) deletes the session, unsets req.session and clears the cookie', async () => {
    const old = await stored('cart=1');
    const res = await request(app).post('/cb/destroy').set('Cookie', old.cookie).expect(200);
    expect(res.body).toMatchObject({ error: null, unset: true, data: null, sessionID: null });
    expect(cookieOf(res)).toMatch(/^sid=; Max-Age=0/);
    expect(await redis.client.exists(old.key)).toBe(0);
  });

  it('reload(cb) drops unsaved changes and reads what another request saved; a gone session is an error', async () => {
    const old = await stored('cart=1');
    const slow = request(app)
      .post('/cb/reload?draft=1&wait=800')
      .set('Cookie', old.cookie)
      .then((r) => r);
    await sleep(100);
    await request(app).post('/set?cart=2').set('Cookie', old.cookie).expect(200);
    const reloaded = await slow;
    expect(reloaded.body).toMatchObject({ error: null, data: { cart: '2' } });

    // Ended elsewhere (a revocation, an expiry): reloading says so instead of keeping stale data.
    const fresh = await stored('cart=9');
    await redis.client.del(fresh.key);
    const gone = await request(app).post('/cb/reload').set('Cookie', fresh.cookie).expect(200);
    expect(gone.body.error).toBe('ERR_SESSION_GONE');
    const none = await request(app).post('/cb/reload').expect(200);
    expect(none.body.error).toBe('ERR_SESSION_GONE');
  });

  it('req.session.cookie shows the cookie; JSON of the session still shows only data', async () => {
    const old = await stored('cart=1');
    const res = await request(app).get('/cookie').set('Cookie', old.cookie).expect(200);
    const thirtyMinutes = 30 * 60 * 1000;
    expect(res.body).toMatchObject({
      originalMaxAge: thirtyMinutes,
      httpOnly: true,
      secure: false,
      sameSite: 'lax',
      path: '/',
      domain: null,
      sessionJson: { cart: '1' },
    });
    expect(res.body.maxAge).toBeGreaterThan(thirtyMinutes - 5_000);
    expect(res.body.maxAge).toBeLessThanOrEqual(thirtyMinutes);
    expect(Math.abs(res.body.expires - (Date.now() + thirtyMinutes))).toBeLessThan(5_000);
    expect(res.body.json).toMatchObject({ originalMaxAge: thirtyMinutes, httpOnly: true, path: '/' });
  });

  it('API names are refused as data keys with a clear error, and never reach Redis', async () => {
    for (const name of ['cookie', 'id', 'save', 'regenerate', 'touch', 'reload', 'userId']) {
      const res = await request(app).post(`/reserved?name=${name}`).expect(500);
      expect(res.body.error).toBe('ERR_SESSION_RESERVED_KEY');
      const key = keyOf(prefix, cookieValue(res) as string);
      expect(await redis.client.hget(key, 'cart')).toBe('1');
      expect(await redis.client.hexists(key, name)).toBe(0);
    }
    for (const name of ['path', 'domain', 'secure', 'httpOnly', 'sameSite', 'originalMaxAge']) {
      const res = await request(app).post(`/reserved?name=cookie.${name}`).expect(500);
      expect(res.body.error).toBe('ERR_SESSION_COOKIE_ATTRIBUTE');
    }
  });
});

describe('remember me (express 5)', () => {
  const express = (expressVersions[1] as (typeof expressVersions)[number])[1];
  const idle = 60_000;
  let prefix: string;
  let sessions: SessionMiddleware;
  let app: ReturnType<typeof apiApp>;

  beforeAll(() => {
    prefix = redis.prefix(`r${Math.random().toString(36).slice(2, 6)}:`);
    sessions = session({
      redis: redis.client,
      secret: SECRET,
      prefix,
      idleTimeout: idle,
      absoluteTimeout: '1h',
      touchAfter: '10s',
    });
    app = apiApp(express, sessions);
  });

  async function expectCookieMatchesRedis(res: request.Response, key: string, expectedMs: number) {
    const maxAge = maxAgeOf(res) as number;
    const pttl = await redis.client.pttl(key);
    expect(Math.abs(maxAge * 1000 - expectedMs)).toBeLessThan(3_000);
    expect(maxAge * 1000).toBeLessThanOrEqual(pttl + 50);
    expect(pttl - maxAge * 1000).toBeLessThan(2_000);
  }

  it('cookie.maxAge makes the cookie and the Redis TTL last that long, and later requests slide by it', async () => {
    const day = 10 * 60_000;
    const res = await request(app).post(`/max-age?ms=${day}&cart=1`).expect(200);
    const value = cookieValue(res) as string;
    const key = keyOf(prefix, value);
    await expectCookieMatchesRedis(res, key, day);
    // An existing session changes its lifetime too.
    const longer = await request(app)
      .post(`/max-age?ms=${2 * day}`)
      .set('Cookie', `sid=${value}`)
      .expect(200);
    await expectCookieMatchesRedis(longer, key, 2 * day);
    // The session keeps its own lifetime: a slide (past touchAfter) uses it, not idleTimeout.
    await redis.client.hset(key, '@s', String(Date.now() - 20_000));
    const slid = await request(app).get('/state').set('Cookie', `sid=${value}`).expect(200);
    await expectCookieMatchesRedis(slid, key, 2 * day);
  });

  it('a lifetime beyond absoluteTimeout is capped by it, in the cookie and in Redis', async () => {
    const res = await request(app)
      .post(`/max-age?ms=${30 * 24 * 3600_000}&cart=1`)
      .expect(200);
    await expectCookieMatchesRedis(res, keyOf(prefix, cookieValue(res) as string), 3600_000);
  });

  it('maxAge = null (or expires = false) makes a browser-session cookie; Redis keeps the idle timeout', async () => {
    const res = await request(app).post('/max-age?ms=null&cart=1').expect(200);
    expect(res.body.maxAge).toBeNull();
    const cookie = cookieOf(res) as string;
    expect(cookie).toMatch(/^sid=[^;]+; Path=\//);
    expect(cookie).not.toMatch(/Max-Age|Expires/);
    const key = keyOf(prefix, cookieValue(res) as string);
    expect(await redis.client.pttl(key)).toBeGreaterThan(idle - 2_000);
    await redis.client.hset(key, '@s', String(Date.now() - 20_000));
    const slid = await request(app)
      .get('/state')
      .set('Cookie', `sid=${cookieValue(res)}`)
      .expect(200);
    expect(cookieOf(slid)).not.toMatch(/Max-Age|Expires/);

    const remembered = await stored();
    const off = await request(app).post('/expires?at=false').set('Cookie', remembered.cookie).expect(200);
    expect(off.body.maxAge).toBeNull();
    expect(cookieOf(off)).not.toMatch(/Max-Age|Expires/);
    const on = await request(app).post('/expires?at=300000').set('Cookie', remembered.cookie).expect(200);
    await expectCookieMatchesRedis(on, remembered.key, 300_000);
  });

  it("signIn's maxAge option sets the signed-in session's lifetime", async () => {
    const res = await request(app).post('/sign-in/rae?maxAge=600000').expect(200);
    await expectCookieMatchesRedis(res, keyOf(prefix, cookieValue(res) as string), 600_000);
    const browser = await request(app).post('/sign-in/rae?maxAge=null').expect(200);
    expect(cookieOf(browser)).not.toMatch(/Max-Age/);
  });

  it('touch() restarts the expiry even inside touchAfter, and re-sends the cookie', async () => {
    const old = await stored();
    await redis.client.pexpire(old.key, 30_000);
    const quiet = await request(app).get('/state').set('Cookie', old.cookie).expect(200);
    expect(cookieOf(quiet)).toBeUndefined();
    const touched = await request(app).post('/touch').set('Cookie', old.cookie).expect(200);
    expect(touched.body.returnedSelf).toBe(true);
    await expectCookieMatchesRedis(touched, old.key, idle);
  });

  it('a maxAge that is not a lifetime is refused', async () => {
    for (const ms of ['0', '-5', '"soon"', '500']) {
      const res = await request(app)
        .post(`/max-age?ms=${encodeURIComponent(ms)}&cart=1`)
        .expect(500);
      expect(res.body.error).toBe('ERR_SESSION_MAX_AGE');
    }
  });

  async function stored(query = 'cart=1') {
    const res = await request(app).post(`/set?${query}`).expect(200);
    const value = cookieValue(res) as string;
    return { cookie: `sid=${value}`, value, key: keyOf(prefix, value) };
  }
});
