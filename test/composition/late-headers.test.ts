// The cache stores only what leaves: a Set-Cookie or Cache-Control added by another middleware's writeHead hook stops the store.
import { randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseCache, session } from '../../src/index.js';
import { readEntries, sleep } from '../cache/support.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { redisUrl, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const SECRET = 'late-headers-secret-0123456789-abcdefgh';
const nodeRedis = createClient({ url: redisUrl() });

beforeAll(async () => {
  await nodeRedis.connect();
});
afterAll(async () => {
  await nodeRedis.quit();
});

let names = 0;

type Sessions = 'session()' | 'express-session';

/** The session middleware under test, on its own key prefix. */
function sessionsOf(kind: Sessions): RequestHandler {
  if (kind === 'session()') {
    return session({ redis: redis.connect(), secret: SECRET, prefix: redis.prefix(`sess${++names}:`) });
  }
  return expressSession({
    store: new RedisStore({ client: nodeRedis, prefix: redis.prefix(`es${++names}:`) }),
    secret: SECRET,
    resave: false,
    saveUninitialized: false,
  });
}

/** A page that mints a CSRF token into the visitor's session and renders it, as a form page does. */
function csrfPage(req: Request, res: Response): void {
  const data = req.session as unknown as Record<string, unknown>;
  data.csrf ??= randomBytes(12).toString('base64url');
  res.type('html').send(`<form><input name="csrf" value="${String(data.csrf)}"></form>`);
}

const tokenOf = (html: string) => /value="([^"]+)"/.exec(html)?.[1];

/** The usual order (session for the whole app, the cache on a route) or the cache first. */
function mount(express: ExpressFactory, kind: Sessions, order: 'session first' | 'cache first') {
  const app = express();
  const name = `late${++names}`;
  const cache = responseCache({ redis: redis.connect(), prefix: redis.prefix('cache:'), name });
  const sessions = sessionsOf(kind);
  if (order === 'session first') {
    app.use(sessions);
    app.get('/form', cache, csrfPage);
  } else {
    app.get('/form', cache, sessions, csrfPage);
  }
  return { app, keyBase: redis.prefix(`cache:${name}:`) };
}

describe.each(expressVersions)('%s', (_label, express) => {
  describe.each(['session()', 'express-session'] as const)('with %s', (kind) => {
    it.each(['session first', 'cache first'] as const)(
      'attack (%s): a page whose session cookie is set as the headers go out is never served to the next visitor',
      async (order) => {
        const { app, keyBase } = mount(express, kind, order);
        const victim = await request(app).get('/form');
        expect(victim.status).toBe(200);
        const token = tokenOf(victim.text);
        expect(token).toBeDefined();
        // The first visitor's answer is what the session made it: its cookie, and no claim it was stored.
        expect(victim.headers['set-cookie']).toBeDefined();
        expect(victim.headers['cache-status']).toBe('express-redis-kit; fwd=miss');
        await sleep(30);

        for (let i = 0; i < 3; i++) {
          const other = await request(app).get('/form');
          expect(other.headers['cache-status']).not.toMatch(/hit/);
          expect(tokenOf(other.text)).not.toBe(token);
          expect(other.headers['set-cookie']).toBeDefined();
        }
        expect(await readEntries(redis.client, keyBase)).toHaveLength(0);
        // The URL is known to answer uncacheably: the next misses skip waiting for each other.
        const next = await request(app).get('/form');
        expect(next.headers['cache-status']).toBe('express-redis-kit; fwd=miss; detail=uncacheable');
      },
    );
  });

  describe("a signed-in visitor's pages cached per user", () => {
    /** session() for the app; the account page cached per user, as `privateScope` is meant to be used. */
    function accountApp() {
      const app: Express = express();
      const cacheName = `account${++names}`;
      app.use(session({ redis: redis.connect(), secret: SECRET, prefix: redis.prefix(`sess${++names}:`) }));
      app.post('/signin', async (req, res) => {
        await req.session.signIn(String(req.query.user));
        res.send('ok');
      });
      let renders = 0;
      app.get(
        '/account',
        responseCache({
          redis: redis.connect(),
          prefix: redis.prefix('cache:'),
          name: cacheName,
          privateScope: (req) => req.session.userId,
        }),
        async (req, res) => {
          renders++;
          // `?rotate` gives the session a fresh id on this page, so its answer carries a new cookie.
          const user = req.session.userId;
          if (req.query.rotate !== undefined && user !== undefined) await req.session.signIn(user);
          res.send(`account of ${req.session.userId} (render ${renders})`);
        },
      );
      return { app, keyBase: redis.prefix(`cache:${cacheName}:`) };
    }

    const cookieOf = (res: { headers: Record<string, unknown> }) =>
      ((res.headers['set-cookie'] as string[] | undefined) ?? []).map((c) => c.split(';')[0]).join('; ');

    it('are stored and hit although the session re-sends its cookie (sliding expiry) on every answer', async () => {
      const { app, keyBase } = accountApp();
      const cookie = cookieOf(await request(app).post('/signin?user=ann'));
      const first = await request(app).get('/account').set('cookie', cookie);
      expect(first.text).toBe('account of ann (render 1)');
      // The session refreshes the very cookie the request carried: same name and value, new expiry.
      expect(cookieOf(first)).toBe(cookie);
      expect(first.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
      await sleep(30);
      const second = await request(app).get('/account').set('cookie', cookie);
      expect(second.headers['cache-status']).toMatch(/; hit/);
      expect(second.text).toBe('account of ann (render 1)');
      expect(cookieOf(second)).toBe(cookie);
      const entries = await readEntries(redis.client, keyBase);
      expect(entries).toHaveLength(1);
      expect(JSON.stringify(entries[0]).toLowerCase()).not.toContain('set-cookie');
    });

    it('attack: another user never gets the entry, and an answer that hands out a new cookie is not stored', async () => {
      const { app, keyBase } = accountApp();
      const ann = cookieOf(await request(app).post('/signin?user=ann'));
      const bob = cookieOf(await request(app).post('/signin?user=bob'));
      await request(app).get('/account').set('cookie', ann);
      await sleep(30);
      const asBob = await request(app).get('/account').set('cookie', bob);
      expect(asBob.text).toBe('account of bob (render 2)');
      const rotated = await request(app).get('/account?rotate').set('cookie', bob);
      expect(cookieOf(rotated)).not.toBe(bob);
      expect(rotated.headers['cache-status']).toBe('express-redis-kit; fwd=miss');
      await sleep(30);
      const again = await request(app).get('/account?rotate').set('cookie', cookieOf(rotated));
      expect(again.text).toMatch(/^account of bob/);
      expect(again.headers['cache-status']).not.toMatch(/hit/);
      // ann's and bob's pages, and nothing for the rotating URL.
      expect(await readEntries(redis.client, keyBase)).toHaveLength(2);
    });
  });

  describe('a hook built like on-headers', () => {
    /** Sets `name: value` from a writeHead wrapper, the way on-headers listeners do. */
    function lateHeader(name: string, value: string): RequestHandler {
      return (_req: Request, res: Response, next: NextFunction) => {
        const writeHead = res.writeHead;
        res.writeHead = function lateWriteHead(this: Response, ...args: unknown[]) {
          this.setHeader(name, value);
          return (writeHead as (...a: unknown[]) => Response).apply(this, args);
        } as Response['writeHead'];
        next();
      };
    }

    const cases: [string, string][] = [
      ['cache-control', 'private'],
      ['cache-control', 'no-store'],
      ['cache-control', 'no-cache'],
      ['vary', '*'],
      ['set-cookie', 'theme=dark; Path=/'],
    ];

    it.each(cases)(
      '%s: %s added in a writeHead hook before the cache stops the store',
      async (name, value) => {
        const app: Express = express();
        const cacheName = `hook${++names}`;
        app.use(lateHeader(name, value));
        let renders = 0;
        app.get(
          '/r',
          responseCache({ redis: redis.connect(), prefix: redis.prefix('cache:'), name: cacheName }),
          (_req, res) => {
            renders++;
            res.send(`render ${renders}`);
          },
        );
        const first = await request(app).get('/r');
        expect(first.headers[name]).toBeDefined();
        expect(first.headers['cache-status']).toBe('express-redis-kit; fwd=miss');
        await sleep(30);
        const second = await request(app).get('/r');
        expect(second.text).toBe('render 2');
        expect(await readEntries(redis.client, redis.prefix(`cache:${cacheName}:`))).toHaveLength(0);
      },
    );

    it('a shorter max-age added in a hook shortens the entry', async () => {
      const app: Express = express();
      const cacheName = `hook${++names}`;
      app.use(lateHeader('cache-control', 'max-age=5'));
      app.get(
        '/r',
        responseCache({ redis: redis.connect(), prefix: redis.prefix('cache:'), name: cacheName, ttl: '1h' }),
        (_req, res) => {
          res.send('ok');
        },
      );
      const first = await request(app).get('/r');
      expect(first.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
      await sleep(30);
      const [entry] = await readEntries(redis.client, redis.prefix(`cache:${cacheName}:`));
      expect(entry).toBeDefined();
      expect((entry?.freshUntil ?? 0) - (entry?.storedAt ?? 0)).toBe(5_000);
    });
  });
});
