// Redis paused or down: requests finish within the deadline per `onRedisError`, and nothing leaks.
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Logger, type SessionMiddleware, session } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { DEADLINE_MARGIN_MS } from '../helpers/http.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { cookieOf, cookieValue, keyOf, SECRET, sessionApp } from './support.js';

const [, express5] = expressVersions[1] as (typeof expressVersions)[number];
const [, express4] = expressVersions[0] as (typeof expressVersions)[number];

let server: RedisServer;
let client: Redis;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startRedisServer();
  client = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.ping();
});
afterAll(async () => {
  client?.disconnect();
  server?.resume();
  await server?.stop();
  process.off('unhandledRejection', onUnhandled);
});

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    warn: (message) => warnings.push(message),
    error: (message) => warnings.push(message),
  };
}

/** The middleware's `timeout` in these tests: the deadline of a request that needs Redis. */
const TIMEOUT_MS = 300;

/** Sends a request (a 5 s cap turns a hang into a failure) and measures it. */
async function timed(test: request.Test): Promise<{ res: request.Response; ms: number }> {
  const started = Date.now();
  const res = await test.timeout(5_000);
  return { res, ms: Date.now() - started };
}

function build(express: typeof express5, onRedisError: 'fail-closed' | 'anonymous') {
  const logger = recordingLogger();
  const sessions: SessionMiddleware = session({
    redis: client,
    secret: SECRET,
    prefix: 'out:',
    onRedisError,
    logger,
    timeout: TIMEOUT_MS,
  });
  return { app: sessionApp(express, sessions), sessions, logger };
}

/** Runs `action` while the server is frozen (SIGSTOP), then thaws it. */
/** Runs `action` with Redis frozen, then thaws it and waits until the client may probe Redis again (100 ms). */
async function whilePaused<T>(action: () => Promise<T>): Promise<T> {
  server.pause();
  try {
    return await action();
  } finally {
    server.resume();
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

describe('Redis paused (no answers)', () => {
  it("'fail-closed': a request with a session cookie gets 503 ERR_SESSION_STORE within the deadline", async () => {
    for (const express of [express4, express5]) {
      const { app, logger } = build(express, 'fail-closed');
      const cookie = `sid=${cookieValue(await request(app).post('/set?cart=1'))}`;
      const { res, ms } = await whilePaused(() => timed(request(app).get('/state').set('Cookie', cookie)));
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'ERR_SESSION_STORE' });
      expect(ms).toBeLessThan(TIMEOUT_MS + DEADLINE_MARGIN_MS);
      expect(cookieOf(res)).toBeUndefined();
      expect(logger.warnings.some((w) => w.includes('Redis error'))).toBe(true);
      // Afterwards the session is intact.
      expect((await request(app).get('/state').set('Cookie', cookie)).body.data).toEqual({ cart: 1 });
    }
  });

  it("'anonymous': the request proceeds with an empty session that is not saved, cookie untouched", async () => {
    for (const express of [express4, express5]) {
      const { app } = build(express, 'anonymous');
      const cookie = `sid=${cookieValue(await request(app).post('/set?cart=1'))}`;
      const res = await whilePaused(() =>
        request(app).post('/set?other=1').set('Cookie', cookie).timeout(5_000),
      );
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ other: 1 });
      expect(cookieOf(res)).toBeUndefined();
      const after = await request(app).get('/state').set('Cookie', cookie);
      expect(after.body.data).toEqual({ cart: 1 });
    }
  });

  it('a new visitor is served without Redis; a failed save is logged, not thrown', async () => {
    const { app, logger } = build(express5, 'fail-closed');
    const empty = await whilePaused(() => request(app).get('/state').timeout(5_000));
    expect(empty.status).toBe(200);
    const saving = await whilePaused(() => request(app).post('/set?cart=1').timeout(5_000));
    expect(saving.status).toBe(200);
    expect(logger.warnings.length).toBeGreaterThan(0);
  });

  it("the client's own commandTimeout bounds the request when the middleware sets no timeout", async () => {
    const withTimeout = new Redis(server.port, '127.0.0.1', {
      maxRetriesPerRequest: 1,
      commandTimeout: TIMEOUT_MS,
    });
    withTimeout.on('error', () => {});
    try {
      const app = sessionApp(
        express5,
        session({ redis: withTimeout, secret: SECRET, prefix: 'out:', logger: recordingLogger() }),
      );
      const cookie = `sid=${cookieValue(await request(app).post('/set?cart=1'))}`;
      const { res, ms } = await whilePaused(() => timed(request(app).get('/state').set('Cookie', cookie)));
      expect(res.status).toBe(503);
      expect(ms).toBeLessThan(TIMEOUT_MS + DEADLINE_MARGIN_MS);
    } finally {
      withTimeout.disconnect();
    }
  });

  it('signIn and the admin methods reject with ERR_SESSION_STORE instead of hanging', async () => {
    const { app, sessions } = build(express4, 'fail-closed');
    await whilePaused(async () => {
      const res = await request(app).post('/sign-in/ada').timeout(5_000);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'ERR_SESSION_STORE' });
      await expect(sessions.listForUser('ada')).rejects.toMatchObject({
        code: 'ERR_SESSION_STORE',
        status: 503,
      });
      await expect(sessions.revoke('ada', 'A'.repeat(43))).rejects.toMatchObject({
        code: 'ERR_SESSION_STORE',
      });
      await expect(sessions.revokeAll('ada')).rejects.toMatchObject({ code: 'ERR_SESSION_STORE' });
    });
  });
});

describe('Redis back within the request', () => {
  it("'anonymous': a sign-in after Redis recovers still ends the session the cookie named", async () => {
    const { app } = build(express5, 'anonymous');
    const created = await request(app).post('/set?cart=1');
    const cookie = `sid=${cookieValue(created)}`;
    const key = keyOf('out:', cookieValue(created) as string);
    server.pause();
    const pending = request(app)
      .post('/sign-in/ada?wait=900')
      .set('Cookie', cookie)
      .timeout(5_000)
      .then((r) => r);
    await new Promise((r) => setTimeout(r, 500));
    server.resume();
    const res = await pending;
    expect(res.status).toBe(200);
    // The load timed out, so the old data was unknown and is not carried over; the old session is ended.
    expect(res.body).toMatchObject({ userId: 'ada', data: {} });
    expect(await client.exists(key)).toBe(0);
    const next = await request(app)
      .get('/state')
      .set('Cookie', `sid=${cookieValue(res)}`);
    expect(next.body.userId).toBe('ada');
  });
});

describe('Redis down, then back', () => {
  it('requests fail per policy while the server is dead and recover after a restart; nothing unhandled', async () => {
    const closed = build(express5, 'fail-closed');
    const open = build(express5, 'anonymous');
    const cookie = `sid=${cookieValue(await request(closed.app).post('/set?cart=1'))}`;
    await server.kill();
    try {
      const a = await request(closed.app).get('/state').set('Cookie', cookie).timeout(5_000);
      expect(a.status).toBe(503);
      const b = await request(open.app).get('/state').set('Cookie', cookie).timeout(5_000);
      expect(b.status).toBe(200);
      expect(b.body).toMatchObject({ data: {}, isNew: true });
      const c = await request(open.app).post('/set?x=1').timeout(5_000);
      expect(c.status).toBe(200);
    } finally {
      await server.restart();
    }
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      const res = await request(closed.app).post('/set?cart=2');
      recovered = res.status === 200 && cookieOf(res) !== undefined;
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
  });
});
