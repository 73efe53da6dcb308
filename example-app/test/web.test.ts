// The shop over HTTP: forms with CSRF protection, the cart merged at sign-in, checkout, validation, devices.

import { beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from '../../test/helpers/http.js';
import { useTestRedis } from '../../test/helpers/redis.js';
import type { ShopApp } from '../app.js';
import { deviceName, readableIp } from '../shop/devices.js';
import { csrfOf, testShop } from './helpers.js';

const redis = useTestRedis();
let shop: ShopApp;

beforeAll(async () => {
  shop = await testShop(redis);
});

async function signedInAgent(username = 'alice', password = `${username}-demo`, app = shop.app) {
  const agent = request.agent(app);
  const page = await agent.get('/signin');
  const response = await agent
    .post('/signin')
    .type('form')
    .send({ _csrf: csrfOf(page.text), username, password, next: '/' });
  expect(response.status).toBe(303);
  return agent;
}

describe('browsing', () => {
  it('serves the catalog and product pages without creating a session', async () => {
    const list = await request(shop.app).get('/');
    expect(list.status).toBe(200);
    expect(list.text).toContain('Espresso cup');
    expect(list.headers['set-cookie']).toBeUndefined();
    const product = await request(shop.app).get('/products/2');
    expect(product.status).toBe(200);
    expect(product.text).toContain('Pour-over kettle');
    expect((await request(shop.app).get('/products/999')).status).toBe(404);
  });
});

describe('cart and CSRF', () => {
  it('adds to the cart, then requires the session token on every form post', async () => {
    const agent = request.agent(shop.app);
    const added = await agent.post('/cart/items').type('form').send({ productId: '1', qty: '2' });
    expect(added.status).toBe(303);
    expect(added.headers['set-cookie']?.[0]).toMatch(/^sid=/);

    const cart = await agent.get('/cart');
    expect(cart.text).toContain('data-testid="line-1"');
    const token = csrfOf(cart.text);

    const forged = await agent.post('/cart/items').type('form').send({ productId: '2', qty: '1' });
    expect(forged.status).toBe(403);
    const wrong = await agent
      .post('/cart/items')
      .type('form')
      .send({ _csrf: `${token}x`, productId: '2', qty: '1' });
    expect(wrong.status).toBe(403);
    const ok = await agent.post('/cart/items').type('form').send({ _csrf: token, productId: '2', qty: '1' });
    expect(ok.status).toBe(303);
    expect((await agent.get('/cart')).text).toContain('data-testid="line-2"');
  });

  it('refuses a forged cross-site form post, with or without the session cookie', async () => {
    const agent = request.agent(shop.app);
    await agent.post('/cart/items').type('form').send({ productId: '1', qty: '1' });
    const token = csrfOf((await agent.get('/cart')).text);
    const crossSite = await agent
      .post('/cart/items')
      .set('Origin', 'https://evil.example')
      .type('form')
      .send({ _csrf: token, productId: '5', qty: '3' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toContain('another site');
    const anonymous = await request(shop.app)
      .post('/cart/items')
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send({ productId: '5', qty: '3' });
    expect(anonymous.status).toBe(403);
    expect((await agent.get('/cart')).text).not.toContain('data-testid="line-5"');
  });

  it('validates quantities with a clear message and never takes prices from the form', async () => {
    const agent = request.agent(shop.app);
    for (const qty of ['0', '-1', '21', 'abc', '1.5', '']) {
      const response = await agent.post('/cart/items').type('form').send({ productId: '1', qty });
      expect(response.status).toBe(400);
      expect(response.text).toContain('Quantity must be a whole number from 1 to 20.');
    }
    await agent.post('/cart/items').type('form').send({ productId: '1', qty: '1', priceCents: '1' });
    const cart = await agent.get('/api/cart');
    expect(cart.body).toEqual({
      items: [{ productId: '1', name: 'Espresso cup', qty: 1, priceCents: 1290 }],
      totalCents: 1290,
    });
  });
});

describe('signing in', () => {
  it('merges the anonymous cart into the user cart and issues a new session id', async () => {
    const bob = await signedInAgent('bob');
    const bobToken = csrfOf((await bob.get('/cart')).text);
    await bob.post('/cart/items').type('form').send({ _csrf: bobToken, productId: '4', qty: '1' });
    await bob.post('/signout').type('form').send({ _csrf: bobToken });

    const agent = request.agent(shop.app);
    const created = await agent.post('/cart/items').type('form').send({ productId: '4', qty: '2' });
    const anonymousId = sessionIdOf(created.headers['set-cookie']);
    expect(anonymousId).toMatch(/.{20,}/);
    await agent
      .post('/cart/items')
      .type('form')
      .send({ _csrf: csrfOf((await agent.get('/cart')).text), productId: '6', qty: '1' });
    const page = await agent.get('/signin');
    const signedIn = await agent
      .post('/signin')
      .type('form')
      .send({ _csrf: csrfOf(page.text), username: 'bob', password: 'bob-demo' });
    expect(signedIn.status).toBe(303);
    const signedInId = sessionIdOf(signedIn.headers['set-cookie']);
    expect(signedInId).toMatch(/.{20,}/);
    expect(signedInId).not.toBe(anonymousId);
    const cart = (await agent.get('/api/cart')).body as { items: { productId: string; qty: number }[] };
    expect(cart.items.map((i) => [i.productId, i.qty]).sort()).toEqual([
      ['4', 3],
      ['6', 1],
    ]);
  });

  it('never counts correct sign-ins: six in a row as alice all pass', async () => {
    for (let i = 0; i < 6; i++) await signedInAgent('alice');
    const sixth = await signedInAgent('alice');
    expect((await sixth.get('/account/devices')).status).toBe(200);
  });

  it('locks an account after five wrong passwords, with the page saying so, even for the right one', async () => {
    const attacker = request.agent(shop.app);
    const token = csrfOf((await attacker.get('/signin')).text);
    const attempt = (password: string) =>
      attacker.post('/signin').type('form').send({ _csrf: token, username: 'admin', password });
    for (let i = 0; i < 5; i++) {
      const wrong = await attempt(`guess-${i}`);
      expect(wrong.status).toBe(401);
      expect(wrong.text).toContain('That username and password do not match.');
    }
    const locked = await attempt('admin-demo');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
    expect(locked.text).toContain(
      'Too many wrong passwords. Sign-in is locked for 15 minutes; try again later.',
    );
    expect((await attacker.get('/account/devices')).status).toBe(303);
    // The JSON API shares the lock.
    const api = await request(shop.app)
      .post('/api/session')
      .send({ username: 'Admin ', password: 'admin-demo' });
    expect(api.status).toBe(429);
    expect(api.body.error).toBe('too_many_failed_sign_ins');
    // Another account from the same address is not locked.
    await signedInAgent('bob');
    // The dashboard's limiter stats count the refusals as blocks.
    const stats = await shop.limiters[0]?.stats();
    expect(stats).toMatchObject({ name: 'signin', allowed: 5 });
    expect(stats?.blocked).toBeGreaterThanOrEqual(2);
  });

  it('limits failed sign-ins per address over every account', async () => {
    const strict = await testShop(redis, 'strict-ip', { signIn: { limit: 5, window: '15m', perIp: 3 } });
    const sprayer = request.agent(strict.app);
    const token = csrfOf((await sprayer.get('/signin')).text);
    const attempt = (username: string, password = 'password1') =>
      sprayer.post('/signin').type('form').send({ _csrf: token, username, password });
    for (const username of ['alice', 'bob', 'carol']) expect((await attempt(username)).status).toBe(401);
    expect((await attempt('dave')).status).toBe(429);
    expect((await attempt('alice', 'alice-demo')).status).toBe(429);
  });
});

describe('devices', () => {
  it('lists the user sessions and revokes another device, which is then anonymous', async () => {
    const laptop = await signedInAgent('alice');
    const phone = await signedInAgent('alice');
    const devices = await laptop.get('/account/devices');
    expect(devices.status).toBe(200);
    expect(devices.text.match(/data-testid="device"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(devices.text).toContain('this device');

    const revokeAll = await laptop
      .post('/account/devices/revoke-all')
      .type('form')
      .send({ _csrf: csrfOf(devices.text) });
    expect(revokeAll.status).toBe(303);
    const after = await phone.get('/account/devices');
    expect(after.status).toBe(303);
    expect(after.headers.location).toMatch(/^\/signin/);
    expect((await laptop.get('/account/devices')).status).toBe(200);
  });
});

describe('devices, as people read them', () => {
  const CHROME_LINUX =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
  const SAFARI_IPHONE =
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

  it('names browsers, shows the IP without its IPv6 mapping, and marks this device', async () => {
    const signIn = async (userAgent: string) => {
      const agent = request.agent(shop.app);
      const page = await agent.get('/signin').set('User-Agent', userAgent);
      await agent
        .post('/signin')
        .set('User-Agent', userAgent)
        .type('form')
        .send({ _csrf: csrfOf(page.text), username: 'bob', password: 'bob-demo' })
        .expect(303);
      return agent;
    };
    const laptop = await signIn(CHROME_LINUX);
    await signIn(SAFARI_IPHONE);
    const page = (await laptop.get('/account/devices').set('User-Agent', CHROME_LINUX).expect(200)).text;
    expect(page).toMatch(/data-testid="device-name" title="[^"]*Chrome\/130[^"]*">Chrome 130 on Linux</);
    expect(page).toContain('>Safari 17 on iOS<');
    expect(page).toMatch(/data-testid="device-ip">127\.0\.0\.1</);
    expect(page).not.toContain('::ffff:');
    // The current device carries the mark, in its own row.
    expect(page).toMatch(/class="current">\s*<td><span data-testid="device-name"[^>]*>Chrome 130 on Linux/);
    expect(page.match(/data-testid="this-device"/g)).toHaveLength(1);
    // Times carry their zone; the page's script shows them in the viewer's locale and time zone.
    expect(page).toMatch(/<time datetime="\d{4}-\d\d-\d\dT[^"]+Z" data-local>[^<]+ UTC<\/time>/);
    expect(page).toContain('/static/local-time.js');
  });

  it('reads user agents it cannot place as well as it can', () => {
    expect(deviceName('')).toBe('Unknown browser');
    expect(deviceName('curl/8.5.0')).toMatch(/^[^<>]+$/);
    expect(readableIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(readableIp('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('a cart that knows the stock', () => {
  it('clamps an addition or an update to what is left and says so', async () => {
    const customer = request.agent(shop.app);
    // Mechanical keyboard: 5 in stock.
    await customer.post('/cart/items').type('form').send({ productId: '14', qty: '20' }).expect(303);
    const cart = await customer.get('/cart');
    expect(cart.text).toContain('Only 5 left: your cart holds 5.');
    expect(cart.text).toContain('data-testid="cart-count">5<');
    await customer
      .post('/cart/items/14')
      .type('form')
      .send({ _csrf: csrfOf(cart.text), qty: '7' })
      .expect(303);
    const updated = await customer.get('/cart');
    expect(updated.text).toContain('Only 5 left: your cart holds 5.');
    expect(updated.text).toContain('data-testid="cart-count">5<');
  });

  it('refuses a checkout the stock cannot cover, naming each product and how many are left', async () => {
    const customer = request.agent(shop.app);
    await customer.post('/cart/items').type('form').send({ productId: '15', qty: '3' }).expect(303);
    const token = csrfOf((await customer.get('/cart')).text);
    await customer
      .post('/cart/items')
      .type('form')
      .send({ _csrf: token, productId: '16', qty: '2' })
      .expect(303);
    await redis.client.hset(shop.shop.keys.product('15'), 'stock', 2);
    await redis.client.hset(shop.shop.keys.product('16'), 'stock', 0);
    const checkout = await customer.get('/checkout');
    await customer
      .post('/checkout')
      .type('form')
      .send({ _csrf: csrfOf(checkout.text), idempotencyKey: 'short-stock-order' })
      .expect(303)
      .expect('location', '/cart');
    const cart = (await customer.get('/cart')).text;
    expect(cart).toContain('Monitor stand (only 2 left)');
    expect(cart).toContain('Trail backpack (sold out)');
    expect(cart).toContain('Nothing was ordered');
  });
});

describe('admin dashboard', () => {
  // A shop of its own: the sign-in test above has locked the admin account out from this address.
  let admin: ShopApp;
  beforeAll(async () => {
    admin = await testShop(redis, 'admin');
  });
  const BROWSER =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';

  it('is only for the admin user', async () => {
    expect((await request(admin.app).get('/admin')).status).toBe(303);
    const alice = await signedInAgent('alice', 'alice-demo', admin.app);
    expect((await alice.get('/admin')).status).toBe(403);
    expect((await alice.get('/admin/data.json')).status).toBe(403);
    expect((await alice.get('/admin/live')).status).toBe(403);
  });

  it('shows page views per route, uniques, rate-limit blocks and queue depths', async () => {
    const agent = await signedInAgent('admin', 'admin-demo', admin.app);
    // what other tests of this shop (and the sign-in) counted: the numbers below are what this test adds
    await admin.views.flush();
    const before = (await agent.get('/admin/data.json')).body;
    const productViews = (d: typeof before): number =>
      d.viewsPerDay.find((r: { route: string }) => r.route === '/products/:id')?.views.at(-1) ?? 0;
    for (const path of ['/', '/products/1', '/products/2', '/products/2']) {
      await request(admin.app).get(path).set('User-Agent', BROWSER).expect(200);
    }
    await admin.views.flush();
    const data = (await agent.get('/admin/data.json')).body;
    expect(productViews(data) - productViews(before)).toBe(3);
    expect(data.todayViews - before.todayViews).toBe(4);
    const page = await agent.get('/admin');
    expect(page.status).toBe(200);
    expect(page.text).toContain('/vendor/chart.js/chart.umd.js');
    expect((await agent.get('/vendor/chart.js/chart.umd.js')).status).toBe(200);
    expect(data.todayUniques).toBeGreaterThanOrEqual(1);
    expect(data.topPages[0]).toMatchObject({ route: '/products/:id' });
    expect(data.rateLimits.map((l: { name: string }) => l.name)).toEqual([
      'signin',
      'signin-ip',
      'api',
      'checkout',
    ]);
    expect(data.rateLimits[0].blockedPerMinute).toHaveLength(60);
    expect(data.queue).toMatchObject({ pending: expect.any(Number), processing: 0, dead: 0 });
  });
});

describe('cached product pages', () => {
  it('serves visitors without a session from the cache, never visitors with one, and refreshes after checkout', async () => {
    const first = await request(shop.app).get('/products/10');
    expect(first.headers['cache-status']).toMatch(/fwd=miss; stored/);
    // The entry is written just after the first response ends; a request in that gap shares the fill
    // in process (`collapsed`) and the one after it is a hit.
    const second = await vi.waitFor(async () => {
      const response = await request(shop.app).get('/products/10');
      expect(response.headers['cache-status']).toMatch(/; hit;/);
      return response;
    });
    expect(second.text).toContain('Only 7 left');
    expect(second.headers['set-cookie']).toBeUndefined();

    const customer = request.agent(shop.app);
    await customer.post('/cart/items').type('form').send({ productId: '10', qty: '2' });
    const personal = await customer.get('/products/10');
    expect(personal.headers['cache-status']).toMatch(/fwd=bypass/);
    expect(personal.text).toContain('data-testid="cart-count">2<');

    const checkout = await customer.get('/checkout');
    const placed = await customer
      .post('/checkout')
      .type('form')
      .send({ _csrf: csrfOf(checkout.text), idempotencyKey: 'cache-test-order-1' });
    expect(placed.status).toBe(303);
    const after = await request(shop.app).get('/products/10');
    expect(after.headers['cache-status']).toMatch(/fwd=miss/);
    expect(after.text).toContain('Only 5 left');
  });
});

/** The session id in a response's Set-Cookie fields (the value of the cookie named `sid`). */
function sessionIdOf(setCookie: string[] | string | undefined): string | undefined {
  const fields = Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie];
  const field = fields.find((f) => f.startsWith('sid='));
  return field?.slice(4, field.indexOf(';') === -1 ? undefined : field.indexOf(';'));
}
