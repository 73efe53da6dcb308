// The shop over HTTP: forms with CSRF protection, the cart merged at sign-in, checkout, validation, devices.
import request from 'supertest';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestRedis } from '../../test/helpers/redis.js';
import type { ShopApp } from '../app.js';
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
    await agent.post('/cart/items').type('form').send({ productId: '4', qty: '2' });
    await agent
      .post('/cart/items')
      .type('form')
      .send({ _csrf: csrfOf((await agent.get('/cart')).text), productId: '6', qty: '1' });
    const before = (await agent.get('/cart')).headers;
    const page = await agent.get('/signin');
    const signedIn = await agent
      .post('/signin')
      .type('form')
      .send({ _csrf: csrfOf(page.text), username: 'bob', password: 'bob-demo' });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers['set-cookie']?.[0]).not.toEqual(before['set-cookie']?.[0]);
    const cart = (await agent.get('/api/cart')).body as { items: { productId: string; qty: number }[] };
    expect(cart.items.map((i) => [i.productId, i.qty]).sort()).toEqual([
      ['4', 3],
      ['6', 1],
    ]);
  });

  it('refuses a wrong password, and rate-limits guessing per IP and account with a friendly page', async () => {
    const agent = request.agent(shop.app);
    const token = csrfOf((await agent.get('/signin')).text);
    const attempt = () =>
      agent.post('/signin').type('form').send({ _csrf: token, username: 'admin', password: 'guess' });
    for (let i = 0; i < 5; i++) expect((await attempt()).status).toBe(401);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.text).toContain('Slow down a little');
    // Another account from the same address is not locked out.
    const other = await agent
      .post('/signin')
      .type('form')
      .send({ _csrf: token, username: 'bob', password: 'bob-demo' });
    expect(other.status).toBe(303);
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
    for (const path of ['/', '/products/1', '/products/2', '/products/2']) {
      await request(admin.app).get(path).set('User-Agent', BROWSER).expect(200);
    }
    await admin.views.flush();
    const agent = await signedInAgent('admin', 'admin-demo', admin.app);
    const page = await agent.get('/admin');
    expect(page.status).toBe(200);
    expect(page.text).toContain('/vendor/chart.js/chart.umd.js');
    expect((await agent.get('/vendor/chart.js/chart.umd.js')).status).toBe(200);
    const data = (await agent.get('/admin/data.json')).body;
    const product = data.viewsPerDay.find((r: { route: string }) => r.route === '/products/:id');
    expect(product.views.at(-1)).toBeGreaterThanOrEqual(3);
    expect(data.todayViews).toBeGreaterThanOrEqual(4);
    expect(data.todayUniques).toBeGreaterThanOrEqual(1);
    expect(data.topPages[0]).toMatchObject({ route: '/products/:id' });
    expect(data.rateLimits.map((l: { name: string }) => l.name)).toEqual(['signin', 'api', 'checkout']);
    expect(data.rateLimits[0].blockedPerMinute).toHaveLength(60);
    expect(data.queue).toEqual({ queued: expect.any(Number), processing: 0, dead: 0 });
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
