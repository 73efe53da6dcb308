// The middleware over HTTP on Express 4 and 5: headers, bodies, cost, skip, keys, routes, admin methods.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { QUOTA_EXCEEDED_TYPE, type RateLimitInfo, rateLimit } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { limitedApp, memoryLogger, nameSource } from './support.js';

const redis = useTestRedis();
const prefix = redis.prefix('rl:');
const nextName = nameSource('mw');
const base = { redis: redis.client, prefix, stats: false } as const;

describe.each(expressVersions)('rateLimit on %s', (_version, express) => {
  it('admits exactly `limit` requests, then answers 429 with Retry-After and draft-8 headers', async () => {
    const name = nextName();
    const app = limitedApp(express, rateLimit({ ...base, name, limit: 3, window: '1m' }));
    for (let i = 3; i > 0; i--) {
      const res = await request(app).get('/r').expect(200);
      expect(res.headers['ratelimit-policy']).toBe(`"${name}";q=3;w=60`);
      expect(res.headers.ratelimit).toBe(`"${name}";r=${i - 1};t=60`);
      expect(res.headers['retry-after']).toBeUndefined();
    }
    const refused = await request(app).get('/r').expect(429);
    expect(refused.headers.ratelimit).toMatch(new RegExp(`^"${name}";r=0;t=(59|60)$`));
    expect(refused.headers['retry-after']).toMatch(/^(59|60)$/);
    expect(refused.headers['content-type']).toMatch(/^text\/plain/);
    expect(refused.text).toMatch(/^Too many requests\. Retry in (59|60) seconds\.\n$/);
  });

  it('sets req.rateLimit for the handlers after it', async () => {
    const name = nextName();
    const app = limitedApp(express, rateLimit({ ...base, name, limit: 2, window: '30s' }));
    const res = await request(app).get('/r').expect(200);
    const info = res.body.rateLimit as RateLimitInfo;
    expect(info).toMatchObject({ name, limit: 2, remaining: 1, allowed: true, cost: 1, key: '127.0.0.1' });
    expect(info.resetMs).toBeGreaterThan(29_000);
    expect(info.rules).toEqual([{ name, limit: 2, windowMs: 30_000, remaining: 1, resetMs: info.resetMs }]);
  });

  it('sends X-RateLimit-* with headers: "legacy", and nothing with headers: false', async () => {
    const legacy = limitedApp(
      express,
      rateLimit({ ...base, name: nextName(), limit: 2, window: '10s', headers: 'legacy' }),
    );
    const res = await request(legacy).get('/r').expect(200);
    const now = Math.floor(Date.now() / 1000);
    expect(res.headers['x-ratelimit-limit']).toBe('2');
    expect(res.headers['x-ratelimit-remaining']).toBe('1');
    expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(now + 9);
    expect(Number(res.headers['x-ratelimit-reset'])).toBeLessThanOrEqual(now + 11);
    expect(res.headers.ratelimit).toBeUndefined();

    const none = limitedApp(
      express,
      rateLimit({ ...base, name: nextName(), limit: 1, window: '10s', headers: false }),
    );
    const ok = await request(none).get('/r').expect(200);
    const refused = await request(none).get('/r').expect(429);
    for (const r of [ok, refused]) {
      expect(Object.keys(r.headers).filter((h) => h.includes('ratelimit'))).toEqual([]);
    }
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('answers JSON or problem+json when Accept asks for it', async () => {
    const name = nextName();
    const app = limitedApp(express, rateLimit({ ...base, name, limit: 1, window: '20s' }));
    await request(app).get('/r').expect(200);
    const json = await request(app).get('/r').set('Accept', 'application/json').expect(429);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.body).toMatchObject({
      type: QUOTA_EXCEEDED_TYPE,
      status: 429,
      'violated-policies': [name],
      retryAfter: Number(json.headers['retry-after']),
    });
    const problem = await request(app).get('/r').set('Accept', 'application/problem+json').expect(429);
    expect(problem.headers['content-type']).toMatch(/^application\/problem\+json/);
    const html = await request(app).get('/r').set('Accept', 'text/html').expect(429);
    expect(html.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('hands refused requests to onLimited with the decision and Retry-After already set', async () => {
    const seen: RateLimitInfo[] = [];
    const app = limitedApp(
      express,
      rateLimit({
        ...base,
        name: nextName(),
        limit: 1,
        window: '20s',
        onLimited: (_req, res, _next, info) => {
          seen.push(info);
          res.status(429).send(`<h1>Slow down</h1><p>Back in ${res.getHeader('Retry-After')} s</p>`);
        },
      }),
    );
    await request(app).get('/r').expect(200);
    const res = await request(app).get('/r').expect(429);
    expect(res.text).toMatch(/^<h1>Slow down<\/h1><p>Back in (19|20) s<\/p>$/);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ allowed: false, remaining: 0 });
    expect(seen[0]?.retryAfterMs).toBeGreaterThan(18_000);
  });

  it('passes errors thrown by onLimited to the error handler', async () => {
    const app = limitedApp(
      express,
      rateLimit({
        ...base,
        name: nextName(),
        limit: 1,
        window: '20s',
        onLimited: async () => {
          throw new Error('template missing');
        },
      }),
    );
    await request(app).get('/r').expect(200);
    const res = await request(app).get('/r').expect(500);
    expect(res.body.error).toBe('template missing');
  });

  it('charges `cost` units, and refuses for good a request costing more than the limit', async () => {
    const app = limitedApp(
      express,
      rateLimit({
        ...base,
        name: nextName(),
        limit: 5,
        window: '1m',
        cost: (req) => Number(req.query.units ?? 1),
      }),
    );
    const three = await request(app).get('/r?units=3').expect(200);
    expect(three.body.rateLimit).toMatchObject({ cost: 3, remaining: 2 });
    await request(app).get('/r?units=3').expect(429);
    await request(app).get('/r?units=2').expect(200);
    const huge = await request(app).get('/r?units=6').set('Accept', 'application/json').expect(429);
    expect(huge.headers['retry-after']).toBeUndefined();
    expect(huge.body.detail).toMatch(/can never be accepted/);
    expect(huge.body.retryAfter).toBeUndefined();
    const free = await request(app).get('/r?units=0').expect(200);
    expect(free.body.rateLimit).toMatchObject({ cost: 0, remaining: 0 });
    const bad = await request(app).get('/r?units=1.5').expect(500);
    expect(bad.body.error).toMatch(/cost function returned 1.5/);
  });

  it('lets skipped requests through uncounted and without headers', async () => {
    const app = limitedApp(
      express,
      rateLimit({
        ...base,
        name: nextName(),
        limit: 1,
        window: '1m',
        skip: async (req) => req.query.admin === '1',
      }),
    );
    for (let i = 0; i < 3; i++) {
      const res = await request(app).get('/r?admin=1').expect(200);
      expect(res.headers.ratelimit).toBeUndefined();
      expect(res.body.rateLimit).toBeNull();
    }
    await request(app).get('/r').expect(200);
    await request(app).get('/r').expect(429);
  });

  it('passes errors from the key function to the error handler, and hashes odd keys', async () => {
    const limiter = rateLimit({
      ...base,
      name: nextName(),
      limit: 2,
      window: '1m',
      key: (req) => {
        const user = req.get('x-user');
        if (user === 'boom') throw new Error('no user store');
        return user ?? 'anon';
      },
    });
    const app = limitedApp(express, limiter);
    expect((await request(app).get('/r').set('x-user', 'boom').expect(500)).body.error).toBe('no user store');
    const long = 'x'.repeat(5_000);
    const res = await request(app).get('/r').set('x-user', long).expect(200);
    expect(res.body.rateLimit.key).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    const peeked = await limiter.peek(long);
    expect(peeked.remaining).toBe(1);
    expect((await limiter.peek(res.body.rateLimit.key)).remaining).toBe(1);
  });

  it('waits for a key and a cost given as promises, and refuses a key that is not a string', async () => {
    const app = limitedApp(
      express,
      rateLimit({
        ...base,
        name: nextName(),
        limit: 4,
        window: '1m',
        key: async (req) => (req.query.as === 'number' ? (7 as unknown as string) : `user-${req.query.as}`),
        cost: async (req) => Number(req.query.units ?? 1),
      }),
    );
    const first = await request(app).get('/r?as=ann&units=3').expect(200);
    expect(first.body.rateLimit).toMatchObject({ key: 'user-ann', cost: 3, remaining: 1 });
    await request(app).get('/r?as=ann&units=2').expect(429);
    await request(app).get('/r?as=bob&units=2').expect(200);
    const bad = await request(app).get('/r?as=number').expect(500);
    expect(bad.body.error).toMatch(/key function returned number, not a string/);
    const badCost = await request(app).get('/r?as=ann&units=-1').expect(500);
    expect(badCost.body.error).toMatch(/cost function returned -1/);
  });

  it('keeps limiters on different routes apart, and shares counts between limiters of one name', async () => {
    const login = rateLimit({ ...base, name: nextName(), limit: 1, window: '1m' });
    const api = rateLimit({ ...base, name: nextName(), limit: 2, window: '1m' });
    const sharedName = nextName();
    const a = rateLimit({ ...base, name: sharedName, limit: 2, window: '1m' });
    const b = rateLimit({ ...base, name: sharedName, limit: 2, window: '1m' });
    const app = express();
    app.post('/login', login, (_req, res) => res.send('in'));
    app.get('/api/x', api, (_req, res) => res.send('x'));
    app.get('/a', a, (_req, res) => res.send('a'));
    app.get('/b', b, (_req, res) => res.send('b'));
    await request(app).post('/login').expect(200);
    await request(app).post('/login').expect(429);
    await request(app).get('/api/x').expect(200);
    await request(app).get('/api/x').expect(200);
    await request(app).get('/api/x').expect(429);
    await request(app).get('/a').expect(200);
    await request(app).get('/b').expect(200);
    await request(app).get('/a').expect(429);
    await request(app).get('/b').expect(429);
  });

  it('appends its items to the draft-8 lists of an earlier limiter on the same request', async () => {
    const outer = nextName();
    const inner = nextName();
    const app = limitedApp(
      express,
      rateLimit({ ...base, name: outer, limit: 10, window: '1m' }),
      rateLimit({ ...base, name: inner, limit: 3, window: '10s' }),
    );
    const res = await request(app).get('/r').expect(200);
    expect(res.headers['ratelimit-policy']).toBe(`"${outer}";q=10;w=60, "${inner}";q=3;w=10`);
    expect(res.headers.ratelimit).toBe(`"${outer}";r=9;t=60, "${inner}";r=2;t=10`);
  });

  it('keys by client IP: IPv4-mapped addresses fold to IPv4, IPv6 clients group by /64', async () => {
    const limiter = rateLimit({ ...base, name: nextName(), limit: 2, window: '1m' });
    const app = limitedApp(express, limiter);
    app.set('trust proxy', 1);
    const from = (ip: string) => request(app).get('/r').set('X-Forwarded-For', ip);
    const first = await from('::ffff:203.0.113.9').expect(200);
    expect(first.body.rateLimit.key).toBe('203.0.113.9');
    await from('203.0.113.9').expect(200);
    await from('203.0.113.9').expect(429);
    await from('203.0.113.10').expect(200);

    const v6 = await from('2001:db8:aa:bb:1::1').expect(200);
    expect(v6.body.rateLimit.key).toBe('2001:db8:aa:bb::/64');
    await from('2001:db8:aa:bb:ffff:2:3:4').expect(200);
    await from('2001:db8:aa:bb::77').expect(429);
    await from('2001:db8:aa:bc::1').expect(200);
  });

  it('warns once when X-Forwarded-For arrives with trust proxy off, or when trust proxy is true', async () => {
    const logger = memoryLogger();
    const app = limitedApp(
      express,
      rateLimit({ ...base, name: nextName(), limit: 50, window: '1m', logger }),
    );
    await request(app).get('/r').expect(200);
    expect(logger.warnings).toEqual([]);
    await request(app).get('/r').set('X-Forwarded-For', '198.51.100.1').expect(200);
    await request(app).get('/r').set('X-Forwarded-For', '198.51.100.2').expect(200);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/'trust proxy' is off/);

    const permissive = memoryLogger();
    const open = limitedApp(
      express,
      rateLimit({ ...base, name: nextName(), limit: 50, window: '1m', logger: permissive }),
    );
    open.set('trust proxy', true);
    await request(open).get('/r').expect(200);
    await request(open).get('/r').expect(200);
    expect(permissive.warnings).toHaveLength(1);
    expect(permissive.warnings[0]).toMatch(/'trust proxy' is true/);
  });
});

describe('admin methods', () => {
  it('peek reads without recording, consume records, reset forgets one key', async () => {
    const limiter = rateLimit({ ...base, name: nextName(), limit: 3, window: '1m' });
    expect(await limiter.peek('user:1')).toMatchObject({ allowed: true, remaining: 3, resetMs: 0 });
    expect(await limiter.consume('user:1', 2)).toMatchObject({ allowed: true, remaining: 1, cost: 2 });
    expect(await limiter.peek('user:1')).toMatchObject({ allowed: true, remaining: 1 });
    expect(await limiter.peek('user:1', 2)).toMatchObject({ allowed: false, remaining: 1 });
    expect(await limiter.consume('user:1', 2)).toMatchObject({ allowed: false, remaining: 1 });
    expect(await limiter.peek('user:2')).toMatchObject({ remaining: 3 });
    expect(await limiter.reset('user:1')).toBe(true);
    expect(await limiter.reset('user:1')).toBe(false);
    expect(await limiter.peek('user:1')).toMatchObject({ remaining: 3 });
    await expect(limiter.consume('user:1', -1)).rejects.toMatchObject({
      name: 'ConfigError',
      code: 'ERR_RATE_LIMIT_COST',
      message: expect.stringMatching(/`cost` must be an integer/),
    });
  });

  it('refuses stats() on a limiter created with stats: false', async () => {
    const limiter = rateLimit({ ...base, name: nextName(), limit: 3, window: '1m' });
    await expect(limiter.stats()).rejects.toMatchObject({ code: 'ERR_RATE_LIMIT_STATS_DISABLED' });
  });
});
