// Libraries written for express-session, unchanged, on session(): Passport, connect-flash, csrf-sync.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type SessionMiddleware, session } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { ecosystemApp } from './ecosystem-app.js';
import { cookieOf, cookieValue, keyOf, maxAgeOf, SECRET } from './support.js';

const redis = useTestRedis();
const DAY = 24 * 3600;

describe.each(expressVersions)('%s', (_name, express) => {
  let prefix: string;
  let sessions: SessionMiddleware;
  let app: ReturnType<typeof ecosystemApp>;

  beforeAll(() => {
    prefix = redis.prefix(`e${Math.random().toString(36).slice(2, 6)}:`);
    sessions = session({
      redis: redis.client,
      secret: SECRET,
      prefix,
      idleTimeout: '30m',
      absoluteTimeout: '7d',
    });
    app = ecosystemApp(express, sessions);
  });

  /** Signs in through the form: a CSRF token from GET /login, then POST /login. */
  async function logIn(agent: ReturnType<typeof request.agent>, fields: Record<string, string> = {}) {
    const form = await agent.get('/login').expect(200);
    return agent
      .post('/login')
      .type('form')
      .send({ username: 'alice', password: 'wonderland', _csrf: form.body.csrf, ...fields })
      .expect(302);
  }

  it('Passport: sign-in answers, req.user is there on the next request, the pre-login id is dead', async () => {
    const agent = request.agent(app);
    const anonymous = await agent.post('/cart?item=book').expect(200);
    const before = cookieValue(anonymous) as string;
    const login = await logIn(agent);
    expect(login.headers.location).toBe('/');
    const after = cookieValue(login) as string;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect((await agent.get('/me').expect(200)).body.user).toEqual({ id: 'u1', name: 'alice' });
    // The cookie from before the sign-in names nothing any more: no user, no data, no key in Redis.
    await request(app).get('/me').set('Cookie', `sid=${before}`).expect(401);
    const old = await request(app).get('/').set('Cookie', `sid=${before}`).expect(200);
    expect(old.body).toMatchObject({ user: null, cart: [] });
    expect(await redis.client.exists(keyOf(prefix, before))).toBe(0);
  });

  it('Passport: keepSessionInfo false (the default) drops the anonymous data, true keeps it', async () => {
    const dropping = request.agent(app);
    await dropping.post('/cart?item=book').expect(200);
    await logIn(dropping);
    expect((await dropping.get('/').expect(200)).body).toMatchObject({ user: { name: 'alice' }, cart: [] });

    const keeping = request.agent(app);
    await keeping.post('/cart?item=book').expect(200);
    await logIn(keeping, { keep: '1' });
    expect((await keeping.get('/').expect(200)).body).toMatchObject({
      user: { name: 'alice' },
      cart: ['book'],
    });
  });

  it('Passport: req.logout ends the signed-in session; its cookie is no longer signed in', async () => {
    const agent = request.agent(app);
    const login = await logIn(agent);
    const signedIn = cookieValue(login) as string;
    await agent.post('/cart?item=lamp').expect(200);
    const logout = await agent.post('/logout').type('form').send({}).expect(302);
    expect(cookieValue(logout)).not.toBe(signedIn);
    await agent.get('/me').expect(401);
    // An attacker holding the signed-in cookie (copied before the sign-out) gets nothing.
    await request(app).get('/me').set('Cookie', `sid=${signedIn}`).expect(401);
    const stolen = await request(app).get('/').set('Cookie', `sid=${signedIn}`).expect(200);
    expect(stolen.body).toMatchObject({ user: null, cart: [] });
    expect(await redis.client.exists(keyOf(prefix, signedIn))).toBe(0);
  });

  it('Passport: req.logout with keepSessionInfo keeps the data but not the user', async () => {
    const agent = request.agent(app);
    const login = await logIn(agent);
    await agent.post('/cart?item=lamp').expect(200);
    await agent.post('/logout').type('form').send({ keep: '1' }).expect(302);
    expect((await agent.get('/').expect(200)).body).toMatchObject({ user: null, cart: ['lamp'] });
    await request(app)
      .get('/me')
      .set('Cookie', `sid=${cookieValue(login)}`)
      .expect(401);
  });

  it('connect-flash: a message survives the redirect after sign-in and sign-out, then is gone', async () => {
    const agent = request.agent(app);
    await logIn(agent);
    expect((await agent.get('/').expect(200)).body.flash).toEqual(['Welcome back!']);
    expect((await agent.get('/').expect(200)).body.flash).toEqual([]);
    await agent.post('/logout').type('form').send({}).expect(302);
    expect((await agent.get('/').expect(200)).body.info).toEqual(['You are signed out.']);
    expect((await agent.get('/').expect(200)).body.info).toEqual([]);
    // A failed sign-in flashes Passport's message on the page it redirects to.
    const failed = await logIn(agent, { password: 'guess' });
    expect(failed.headers.location).toBe('/login-failed');
    expect((await agent.get('/login-failed').expect(401)).body.flash).toEqual([
      'Wrong user name or password.',
    ]);
    expect((await agent.get('/login-failed').expect(401)).body.flash).toEqual([]);
  });

  it('csrf-sync: a token is issued and accepted, a wrong or missing one refused, the pre-login one dies with the old session', async () => {
    const agent = request.agent(app);
    const loginForm = await agent.get('/login').expect(200);
    const preLogin = loginForm.body.csrf as string;
    expect(preLogin).toMatch(/^[0-9a-f]{256}$/);
    // The attacker's forged form, with no token or a token of their own session, is refused.
    await agent.post('/login').type('form').send({ username: 'alice', password: 'wonderland' }).expect(403);
    const attacker = await request(app).get('/login').expect(200);
    await agent
      .post('/login')
      .type('form')
      .send({ username: 'alice', password: 'wonderland', _csrf: attacker.body.csrf })
      .expect(403);
    await agent.get('/me').expect(401);

    await agent
      .post('/login')
      .type('form')
      .send({ username: 'alice', password: 'wonderland', _csrf: preLogin })
      .expect(302);
    const form = await agent.get('/form').expect(200);
    expect(form.body.csrf).not.toBe(preLogin);
    await agent.post('/transfer').type('form').send({ _csrf: form.body.csrf }).expect(200, { ok: true });
    await agent.post('/transfer').type('form').send({ _csrf: preLogin }).expect(403);
    const token = form.body.csrf as string;
    const tampered = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    await agent.post('/transfer').type('form').send({ _csrf: tampered }).expect(403);
    await agent.post('/transfer').type('form').send({}).expect(403);
  });

  it('Passport + signIn: the session joins the device list; revokeAll and req.logout take it off', async () => {
    const { id } = await sessionsOf('u2');
    expect(id).toEqual([]);
    const laptop = request.agent(app);
    const phone = request.agent(app);
    for (const agent of [laptop, phone]) {
      const form = await agent.get('/login').expect(200);
      await agent
        .post('/login')
        .type('form')
        .send({ username: 'bob', password: 'builder', _csrf: form.body.csrf, device: '1' })
        .expect(302);
      expect((await agent.get('/me').expect(200)).body.user.name).toBe('bob');
    }
    expect((await sessionsOf('u2')).id).toHaveLength(2);
    await phone.post('/logout').type('form').send({}).expect(302);
    expect((await sessionsOf('u2')).id).toHaveLength(1);
    expect(await sessions.revokeAll('u2')).toBe(1);
    await laptop.get('/me').expect(401);
    expect((await sessionsOf('u2')).id).toEqual([]);
  });

  async function sessionsOf(userId: string) {
    const list = await sessions.listForUser(userId);
    return { id: list.map((s) => s.handle) };
  }

  it('remember me: cookie.maxAge set after Passport signs in makes the cookie last that long, as in Redis', async () => {
    const agent = request.agent(app);
    const remembered = await logIn(agent, { remember: '1' });
    const value = cookieValue(remembered) as string;
    // 30 days asked, capped by the 7-day absolute timeout; Redis agrees with the cookie.
    const maxAge = maxAgeOf(remembered) as number;
    expect(maxAge).toBeGreaterThan(7 * DAY - 60);
    expect(maxAge).toBeLessThanOrEqual(7 * DAY);
    const pttl = await redis.client.pttl(keyOf(prefix, value));
    expect(Math.abs(pttl / 1000 - maxAge)).toBeLessThan(2);
    expect((await agent.get('/me').expect(200)).body.user.name).toBe('alice');

    const plain = await logIn(request.agent(app));
    expect(maxAgeOf(plain)).toBe(30 * 60);
    expect(cookieOf(plain)).toMatch(/HttpOnly/);
  });
});
