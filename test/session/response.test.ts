// How the session is written as the response goes out: streaming, headers, double end, restore, save().
import { ServerResponse } from 'node:http';
import compression from 'compression';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Logger, session } from '../../src/index.js';
import { recordCommands } from '../helpers/commands.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { cookieOf, cookieValue, data, keyOf, SECRET, sleep, wrap } from './support.js';

const redis = useTestRedis();

function quietLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}

describe.each(expressVersions)('%s', (_name, express) => {
  const prefix = redis.prefix(`r${Math.random().toString(36).slice(2, 6)}:`);
  const logger = quietLogger();
  const sessions = session({ redis: redis.client, secret: SECRET, prefix, logger });

  function app() {
    const a = express();
    a.use(sessions);
    return a;
  }

  async function seeded(): Promise<{ cookie: string; key: string }> {
    const a = app();
    a.post('/seed', (req, res) => {
      data(req).seed = 1;
      res.end('ok');
    });
    const res = await request(a).post('/seed');
    return { cookie: `sid=${cookieValue(res)}`, key: keyOf(prefix, cookieValue(res) as string) };
  }

  it('a streamed response gets the cookie with its headers and saves changes made while streaming', async () => {
    const a = app();
    a.get('/stream', async (req, res) => {
      data(req).before = 1;
      res.write('a');
      await sleep(20);
      data(req).during = 2;
      res.write('b');
      res.end('c');
    });
    const res = await request(a).get('/stream');
    expect(res.text).toBe('abc');
    const value = cookieValue(res) as string;
    expect(value).toBeDefined();
    // The new session was created with the headers; what changed after them was written before the end.
    expect(await redis.client.hmget(keyOf(prefix, value), 'before', 'during')).toEqual(['1', '2']);
    const again = await request(a).get('/stream').set('Cookie', `sid=${value}`);
    expect(again.text).toBe('abc');
  });

  it('data set after the headers on a session without a cookie is not saved, and a warning says why', async () => {
    const a = app();
    a.get('/late', (req, res) => {
      res.write('a');
      data(req).late = 1;
      res.end();
    });
    const res = await request(a).get('/late');
    expect(cookieOf(res)).toBeUndefined();
    expect(logger.lines.some((l) => l.includes('after the response headers were sent'))).toBe(true);
  });

  it('joins a Set-Cookie passed to res.writeHead instead of losing either', async () => {
    const a = app();
    a.get('/head', (req, res) => {
      data(req).x = 1;
      res.writeHead(200, { 'Set-Cookie': 'theme=dark', 'Content-Type': 'text/plain' });
      res.end('ok');
    });
    const res = await request(a).get('/head');
    const cookies = res.headers['set-cookie'] as unknown as string[];
    expect(cookies.some((c) => c.startsWith('theme=dark'))).toBe(true);
    expect(cookieOf(res)).toBeDefined();
  });

  it('survives a double end and puts the original writeHead and end back', async () => {
    const a = app();
    let restored = false;
    a.get('/twice', (req, res) => {
      data(req).x = 1;
      res.on('finish', () => {
        restored =
          (!Object.hasOwn(res, 'end') || res.end === ServerResponse.prototype.end) &&
          (!Object.hasOwn(res, 'writeHead') || res.writeHead === ServerResponse.prototype.writeHead);
      });
      res.end('one');
      res.end('two');
    });
    const res = await request(a).get('/twice');
    expect(res.text).toBe('one');
    expect(restored).toBe(true);
  });

  it('works behind compression, which patches the response too', async () => {
    const a = express();
    a.use(compression({ threshold: 0 }));
    a.use(sessions);
    a.get('/big', (req, res) => {
      data(req).n = ((data(req).n as number | undefined) ?? 0) + 1;
      res.send('x'.repeat(5_000));
    });
    const first = await request(a).get('/big').set('Accept-Encoding', 'gzip');
    expect(first.headers['content-encoding']).toBe('gzip');
    expect(first.text).toHaveLength(5_000);
    const cookie = `sid=${cookieValue(first)}`;
    await request(a).get('/big').set('Accept-Encoding', 'gzip').set('Cookie', cookie);
    expect(await redis.client.hget(keyOf(prefix, cookieValue(first) as string), 'n')).toBe('2');
  });

  it('save() writes before the response, and reports a session ended meanwhile as ERR_SESSION_GONE', async () => {
    const { cookie, key } = await seeded();
    const a = app();
    a.post(
      '/save',
      wrap(async (req, res) => {
        data(req).saved = true;
        await req.session.save();
        res.json({ inRedis: await redis.client.hget(key, 'saved') });
      }),
    );
    a.post(
      '/save-after-revoke',
      wrap(async (req, res) => {
        await redis.client.del(key);
        data(req).x = 1;
        try {
          await req.session.save();
          res.json({ ok: true });
        } catch (error) {
          res.json({ code: (error as { code: string }).code, isNew: req.session.isNew });
        }
      }),
    );
    expect((await request(a).post('/save').set('Cookie', cookie)).body).toEqual({ inRedis: 'true' });
    expect((await request(a).post('/save-after-revoke').set('Cookie', cookie)).body).toEqual({
      code: 'ERR_SESSION_GONE',
      isNew: true,
    });
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('refuses id changes after the headers, and overlapping method calls, with typed errors', async () => {
    const a = app();
    a.post(
      '/misuse',
      wrap(async (req, res) => {
        const codes: string[] = [];
        const first = req.session.signIn('ada');
        await req.session.destroy().catch((e: { code: string }) => codes.push(e.code));
        await first;
        res.write('x');
        await req.session.regenerate().catch((e: { code: string }) => codes.push(e.code));
        await req.session.signIn('bob').catch((e: { code: string }) => codes.push(e.code));
        res.end(JSON.stringify({ codes, user: req.session.userId }));
      }),
    );
    const res = await request(a).post('/misuse');
    expect(JSON.parse(res.text.slice(1))).toEqual({
      codes: ['ERR_SESSION_BUSY', 'ERR_SESSION_HEADERS_SENT', 'ERR_SESSION_HEADERS_SENT'],
      user: 'ada',
    });
  });

  it('a value JSON cannot encode is logged and skipped; the rest is saved and the response is fine', async () => {
    const a = app();
    a.post('/bigint', (req, res) => {
      data(req).ok = 1;
      data(req).bad = 10n;
      res.json({ ok: true });
    });
    const res = await request(a).post('/bigint');
    expect(res.status).toBe(200);
    const hash = await redis.client.hgetall(keyOf(prefix, cookieValue(res) as string));
    expect(hash.ok).toBe('1');
    expect(hash.bad).toBeUndefined();
    expect(logger.lines.some((l) => l.includes("'bad' is not JSON-serialisable"))).toBe(true);
  });

  it('the session API is read-only and not part of the data', async () => {
    const a = app();
    a.get('/api', (req, res) => {
      let threw = false;
      try {
        (req.session as unknown as { id: string }).id = 'mine';
      } catch {
        threw = true;
      }
      data(req).a = 1;
      res.json({ threw, keys: Object.keys(req.session), json: JSON.parse(JSON.stringify(req.session)) });
    });
    expect((await request(a).get('/api')).body).toEqual({ threw: true, keys: ['a'], json: { a: 1 } });
  });

  it('mounted twice (app and router), the session is loaded once', async () => {
    const client = redis.connect();
    await client.ping();
    const twice = session({ redis: client, secret: SECRET, prefix });
    const a = express();
    a.use(twice);
    a.post('/seed', (req, res) => {
      data(req).seed = 1;
      res.end();
    });
    const router = express.Router();
    router.use(twice);
    router.get('/twice', (req, res) => {
      res.json({ seed: data(req).seed });
    });
    a.use(router);
    const cookie = `sid=${cookieValue(await request(a).post('/seed'))}`;
    const recorder = await recordCommands(client);
    const res = await request(a).get('/twice').set('Cookie', cookie);
    expect(res.body).toEqual({ seed: 1 });
    expect(await recorder.stop()).toHaveLength(1);
  });
});

describe('the response waits for the write', () => {
  let server: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
  });
  afterAll(async () => {
    client?.disconnect();
    server?.resume();
    await server?.stop();
  });

  it('the client gets the end of the response only after Redis stored the change (read-your-writes)', async () => {
    const [, express5] = expressVersions[1] as (typeof expressVersions)[number];
    const sessions = session({ redis: client, secret: SECRET, prefix: 'hold:', timeout: '5s' });
    const a = express5();
    a.use(sessions);
    a.post('/set', async (req, res) => {
      await sleep(Number(req.query.wait ?? 0));
      data(req).v = Number(req.query.v);
      res.send('ok');
    });
    const created = await request(a).post('/set?v=1');
    const cookie = `sid=${cookieValue(created)}`;
    const key = keyOf('hold:', cookieValue(created) as string);

    const response = request(a)
      .post('/set?v=2&wait=300')
      .set('Cookie', cookie)
      .then((r) => ({ r, at: Date.now() }));
    await sleep(100);
    server.pause();
    await sleep(500);
    const resumedAt = Date.now();
    server.resume();
    const { r, at } = await response;
    expect(r.status).toBe(200);
    expect(at).toBeGreaterThanOrEqual(resumedAt);
    expect(await client.hget(key, 'v')).toBe('2');
  });
});
