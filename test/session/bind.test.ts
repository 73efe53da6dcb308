// The `bind` option: a session used from a different client is destroyed and a warning is logged.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { type Logger, session } from '../../src/index.js';
import { ipPrefix } from '../../src/session/bind.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { cookieOf, cookieValue, keyOf, SECRET, sessionApp } from './support.js';

const redis = useTestRedis();
const [, express5] = expressVersions[1] as (typeof expressVersions)[number];

function build(
  bind: 'user-agent' | 'ip-prefix' | ((req: { get(name: string): string | undefined }) => string),
) {
  const warnings: Array<{ message: string; details?: Record<string, unknown> }> = [];
  const logger: Logger = {
    warn: (message, details) => warnings.push({ message, details }),
    error: (message, details) => warnings.push({ message, details }),
  };
  const prefix = redis.prefix(`b${Math.random().toString(36).slice(2, 6)}:`);
  const app = sessionApp(
    express5,
    session({ redis: redis.client, secret: SECRET, prefix, bind: bind as never, logger }),
  );
  return { app, prefix, warnings };
}

describe('ipPrefix', () => {
  it('keeps the /24 of IPv4 (also IPv4-mapped) and the /48 of IPv6', () => {
    expect(ipPrefix('203.0.113.7')).toBe('203.0.113.0/24');
    expect(ipPrefix('::ffff:203.0.113.7')).toBe('203.0.113.0/24');
    expect(ipPrefix('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(ipPrefix('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(ipPrefix('::1')).toBe('0:0:0::/48');
    expect(ipPrefix('')).toBe('');
  });
});

describe('bind', () => {
  it("'user-agent': the same browser keeps its session; another one ends it, with a warning", async () => {
    const { app, prefix, warnings } = build('user-agent');
    const created = await request(app).post('/set?cart=1').set('User-Agent', 'Firefox');
    const cookie = `sid=${cookieValue(created)}`;
    expect(
      (await request(app).get('/state').set('Cookie', cookie).set('User-Agent', 'Firefox')).body.data,
    ).toEqual({
      cart: 1,
    });
    const stolen = await request(app).get('/state').set('Cookie', cookie).set('User-Agent', 'curl/8');
    expect(stolen.status).toBe(200);
    expect(stolen.body).toMatchObject({ isNew: true, data: {} });
    expect(cookieOf(stolen)).toMatch(/^sid=; Max-Age=0/);
    expect(await redis.client.exists(keyOf(prefix, cookieValue(created) as string))).toBe(0);
    expect(warnings.map((w) => w.message)).toContain('Session binding mismatch: the session was ended');
    // Destroyed, not just hidden: the rightful browser is signed out too.
    expect(
      (await request(app).get('/state').set('Cookie', cookie).set('User-Agent', 'Firefox')).body.isNew,
    ).toBe(true);
  });

  it("'ip-prefix': a move inside the /24 is fine, a request from elsewhere ends a signed-in session", async () => {
    const { app, warnings } = build('ip-prefix');
    const signed = await request(app).post('/sign-in/ada').set('X-Forwarded-For', '203.0.113.7');
    const cookie = `sid=${cookieValue(signed)}`;
    const near = await request(app)
      .get('/state')
      .set('Cookie', cookie)
      .set('X-Forwarded-For', '203.0.113.99');
    expect(near.body.userId).toBe('ada');
    const far = await request(app).get('/state').set('Cookie', cookie).set('X-Forwarded-For', '198.51.100.1');
    expect(far.body.userId).toBeNull();
    expect(warnings[0]?.details).toMatchObject({ userId: 'ada' });
  });

  it('a function: any value derived from the request', async () => {
    const { app } = build((req) => req.get('X-Device') ?? '');
    const created = await request(app).post('/set?cart=1').set('X-Device', 'd1');
    const cookie = `sid=${cookieValue(created)}`;
    expect((await request(app).get('/state').set('Cookie', cookie).set('X-Device', 'd1')).body.data).toEqual({
      cart: 1,
    });
    expect((await request(app).get('/state').set('Cookie', cookie).set('X-Device', 'd2')).body.isNew).toBe(
      true,
    );
  });
});
