// Attacks on the shop's cached pages: a signed-in visitor tries to get their page served to everyone else.

import { beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from '../../test/helpers/http.js';
import { useTestRedis } from '../../test/helpers/redis.js';
import type { ShopApp } from '../app.js';
import { csrfOf, testShop } from './helpers.js';

const redis = useTestRedis();
let shop: ShopApp;

beforeAll(async () => {
  shop = await testShop(redis, 'poison');
});

/** Signs bob in and returns his session cookie (`name=value`) and the CSRF token of his pages. */
async function signInBob(): Promise<{ cookie: string; csrf: string }> {
  const agent = request.agent(shop.app);
  const form = await agent.get('/signin');
  const signedIn = await agent
    .post('/signin')
    .type('form')
    .send({ _csrf: csrfOf(form.text), username: 'bob', password: 'bob-demo', next: '/' });
  expect(signedIn.status).toBe(303);
  const setCookie = ([] as string[]).concat(signedIn.headers['set-cookie'] ?? []);
  const cookie = setCookie.map((c) => c.split(';')[0] as string).find((c) => !c.endsWith('='));
  expect(cookie).toBeDefined();
  const page = await request(shop.app)
    .get('/products/4')
    .set('Cookie', cookie as string);
  expect(page.text).toContain('Sign out Bob');
  return { cookie: cookie as string, csrf: csrfOf(page.text) };
}

describe('the shop under cache-poisoning attacks', () => {
  it.each([
    ['a comma', (sid: string) => `_ga=GA1.1.1.1, ${sid}`],
    ['a space', (sid: string) => `_ga=GA1.1.1.1 ${sid}`],
    ['a tab', (sid: string) => `_ga=GA1.1.1.1\t${sid}`],
    ['a repeated public cookie', (sid: string) => `_ga=1; _ga=2, ${sid}`],
  ])(
    'a signed-in page sent with its session cookie behind %s is never served to an anonymous visitor',
    async (_how, forge) => {
      const bob = await signInBob();
      const product = `/products/${3 + Math.floor(Math.random() * 5)}`;
      // The attack: bob's own session cookie, hidden from a naive reader behind a public analytics cookie.
      const attack = await request(shop.app).get(product).set('Cookie', forge(bob.cookie));
      expect(attack.status).toBe(200);
      for (let i = 0; i < 3; i++) {
        const visitor = await request(shop.app).get(product);
        expect(visitor.status).toBe(200);
        expect(visitor.text).not.toContain('Sign out Bob');
        expect(visitor.text).not.toContain(bob.csrf);
      }
    },
  );

  it('a forged Host never leaves links to another site in the pages of the real one', async () => {
    const forged = await request(shop.app).get('/products/2').set('Host', 'shop.example:@evil.example');
    expect(forged.headers['cache-status']).toMatch(/fwd=bypass/);
    const visitor = await request(shop.app).get('/products/2').set('Host', 'shop.example');
    expect(visitor.text).not.toContain('evil.example');
  });

  it('random query strings share the entry of the page rather than making entries of their own', async () => {
    await request(shop.app).get('/?sort=price-asc');
    await vi.waitFor(async () => {
      const page = await request(shop.app).get('/?sort=price-asc');
      expect(page.headers['cache-status']).toMatch(/; hit;/);
    });
    for (let i = 0; i < 5; i++) {
      const page = await request(shop.app).get(`/?utm_source=${Math.random()}&sort=price-asc`);
      expect(page.headers['cache-status']).toMatch(/; hit;/);
    }
    await request(shop.app).get('/products/5');
    await vi.waitFor(async () => {
      const page = await request(shop.app).get(`/products/5?x=${Math.random()}`);
      expect(page.headers['cache-status']).toMatch(/; hit;/);
    });
    for (const noise of [`/?sort=${Math.random()}`, '/?category=nope', '/?sort=name&sort=price-asc']) {
      const page = await request(shop.app).get(noise);
      expect(page.headers['cache-status'] ?? '', noise).not.toMatch(/stored/);
    }
  });
});
