// Options are checked when the middleware is created, with coded errors; the defaults are documented.
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_OPTIONS, session } from '../../src/index.js';
import { resolveOptions } from '../../src/session/options.js';
import { configErrorCode } from '../helpers/config-error.js';
import { useTestRedis } from '../helpers/redis.js';
import { SECRET } from './support.js';

const redis = useTestRedis();
const base = { redis: redis.client, secret: SECRET };

describe('session options', () => {
  it('resolves the documented defaults', () => {
    const config = resolveOptions(base);
    expect(config.cookieName).toBe('sid');
    expect(config.cookieAttributes).toBe('; Path=/; HttpOnly; SameSite=Lax');
    expect(config.secure).toBe('auto');
    expect(config.idleMs).toBe(30 * 60_000);
    expect(config.absoluteMs).toBe(7 * 86_400_000);
    expect(config.touchAfterMs).toBe(0);
    expect(config.prefix).toBe('sess:');
    expect(config.bind).toBeUndefined();
    expect(config.maxSessionsPerUser).toBe(0);
    expect(config.onRedisError).toBe('fail-closed');
    expect(config.timeoutMs).toBe(1_000);
    expect(DEFAULT_SESSION_OPTIONS).toMatchObject({
      cookieName: 'sid',
      idleTimeout: '30m',
      absoluteTimeout: '7d',
    });
    // undefined means "use the default".
    expect(resolveOptions({ ...base, idleTimeout: undefined, cookie: undefined }).idleMs).toBe(1_800_000);
  });

  it('refuses bad options at creation with coded ConfigErrors', () => {
    expect(configErrorCode(() => session(undefined as never))).toBe('ERR_OPTIONS_INVALID');
    expect(configErrorCode(() => session({ ...base, idleTimout: '1m' } as never))).toBe('ERR_OPTION_UNKNOWN');
    expect(configErrorCode(() => session({ secret: SECRET } as never))).toBe('ERR_REDIS_CLIENT');
    expect(configErrorCode(() => session({ redis: redis.client } as never))).toBe('ERR_SESSION_SECRET');
    expect(configErrorCode(() => session({ ...base, secret: 'short' }))).toBe('ERR_SESSION_SECRET');
    expect(configErrorCode(() => session({ ...base, secret: [SECRET, 'short'] }))).toBe('ERR_SESSION_SECRET');
    expect(configErrorCode(() => session({ ...base, secret: [] }))).toBe('ERR_SESSION_SECRET');
    expect(configErrorCode(() => session({ ...base, cookieName: 'bad name' }))).toBe('ERR_SESSION_COOKIE');
    expect(configErrorCode(() => session({ ...base, cookie: { path: 'no slash;' } }))).toBe(
      'ERR_SESSION_COOKIE',
    );
    expect(configErrorCode(() => session({ ...base, cookie: { sameSite: 'none', secure: false } }))).toBe(
      'ERR_SESSION_COOKIE',
    );
    expect(configErrorCode(() => session({ ...base, cookie: { sameSite: 'sometimes' as never } }))).toBe(
      'ERR_OPTION_VALUE',
    );
    expect(configErrorCode(() => session({ ...base, cookie: { maxAge: 1 } as never }))).toBe(
      'ERR_OPTION_UNKNOWN',
    );
    expect(configErrorCode(() => session({ ...base, idleTimeout: 'soon' as never }))).toBe(
      'ERR_DURATION_INVALID',
    );
    expect(configErrorCode(() => session({ ...base, idleTimeout: 500 }))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => session({ ...base, idleTimeout: '2h', absoluteTimeout: '1h' }))).toBe(
      'ERR_OPTION_RANGE',
    );
    expect(configErrorCode(() => session({ ...base, idleTimeout: '1m', touchAfter: '1m' }))).toBe(
      'ERR_OPTION_RANGE',
    );
    expect(configErrorCode(() => session({ ...base, prefix: 'a{b}' }))).toBe('ERR_PREFIX_INVALID');
    expect(configErrorCode(() => session({ ...base, bind: 'ip' as never }))).toBe('ERR_OPTION_VALUE');
    expect(configErrorCode(() => session({ ...base, maxSessionsPerUser: 0 }))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => session({ ...base, onRedisError: 'fail-open' as never }))).toBe(
      'ERR_OPTION_VALUE',
    );
    expect(configErrorCode(() => session({ ...base, logger: {} as never }))).toBe('ERR_OPTION_VALUE');
  });

  it('catches app.use(session) without the call, and creation inside a request handler', async () => {
    const app = express();
    app.use(session as never);
    app.use(
      (
        error: { code?: string },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(500).send(error.code);
      },
    );
    const direct = await request(app).get('/');
    expect(direct.status).toBe(500);
    expect(direct.text).toBe('ERR_FACTORY_NOT_CALLED');

    const inside = express();
    inside.get('/', (_req, res) => {
      res.send(configErrorCode(() => session(base)) ?? 'created');
    });
    expect((await request(inside).get('/')).text).toBe('ERR_CREATED_IN_REQUEST_HANDLER');
  });

  it('builds the cookie attributes once, with domain, strict and no HttpOnly when asked', () => {
    const config = resolveOptions({
      ...base,
      cookieName: '__Host-sid',
      cookie: { httpOnly: false, sameSite: 'strict', secure: true, path: '/app', domain: 'example.com' },
    });
    expect(config.cookieAttributes).toBe('; Domain=example.com; Path=/app; SameSite=Strict');
    expect(config.secure).toBe(true);
  });

  it("sets Secure per request with secure: 'auto', following trust proxy", async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.use(session({ ...base, prefix: redis.prefix('opt:') }));
    app.get('/', (req, res) => {
      (req.session as unknown as Record<string, number>).x = 1;
      res.end();
    });
    const plain = await request(app).get('/');
    const https = await request(app).get('/').set('X-Forwarded-Proto', 'https');
    expect(String(plain.headers['set-cookie'])).not.toContain('Secure');
    expect(String(https.headers['set-cookie'])).toContain('; Secure');
  });
});
