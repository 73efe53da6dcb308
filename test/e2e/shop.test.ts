// The example shop in a real browser: browse, cart, sign in (cart merged), checkout, dashboard with live views.
/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShopApp, type ShopApp } from '../../example-app/app.js';
import { useTestRedis } from '../helpers/redis.js';
import { DESKTOP_CHROME, launchChromium } from './browser.js';

const SHOTS = new URL('../../test-results/screenshots/', import.meta.url).pathname;
const SECRET = 'e2e-secret-that-is-at-least-32-characters-long';

const redis = useTestRedis();
let shop: ShopApp;
let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  shop = await createShopApp({
    redis: redis.client,
    sessionSecrets: [SECRET],
    pageViewSecret: SECRET,
    prefix: redis.prefix('e2e:'),
    log: () => {},
  });
  server = shop.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await shop?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({
    userAgent: DESKTOP_CHROME,
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

describe('the shop in Chromium', () => {
  it('browses, fills a cart, signs in with the cart merged, checks out, and the dashboard shows it live', async () => {
    const customer = await newPage();
    await customer.goto(`${base}/`);
    expect(await customer.locator('.card').count()).toBe(20);
    await shot(customer, '01-products');

    await customer.click('a[href="/products/12"] >> nth=1');
    await customer.waitForURL(`${base}/products/12`);
    await customer.fill('input[name=qty]', '2');
    await customer.click('[data-testid=add-12]');
    await customer.waitForURL(`${base}/cart`);
    expect(await customer.textContent('[data-testid=cart-count]')).toBe('2');
    await shot(customer, '02-cart-anonymous');

    // Bob already has something in his cart from another visit.
    await shop.shop.carts.add('user-u2', '11', 1);

    await customer.click('text=Sign in');
    await customer.fill('input[name=username]', 'bob');
    await customer.fill('input[name=password]', 'bob-demo');
    await customer.click('[data-testid=signin]');
    await customer.waitForURL(`${base}/`);
    expect(await customer.textContent('[data-testid=cart-count]')).toBe('3');

    await customer.goto(`${base}/cart`);
    expect(await customer.locator('[data-testid=line-12]').count()).toBe(1);
    expect(await customer.locator('[data-testid=line-11]').count()).toBe(1);
    expect(await customer.textContent('[data-testid=cart-total]')).toBe('$93.00');
    await shot(customer, '03-cart-merged');

    await customer.click('[data-testid=go-checkout]');
    await customer.waitForURL(`${base}/checkout`);
    await customer.click('[data-testid=place-order]');
    await customer.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    expect(await customer.textContent('[data-testid=order-total]')).toBe('$93.00');
    const orderId = (await customer.textContent('[data-testid=order-id]')) ?? '';
    await shot(customer, '04-order-confirmation');
    expect(await redis.client.hget(shop.shop.keys.product('12'), 'stock')).toBe('16');
    expect((await shop.shop.orders.get(orderId))?.userId).toBe('u2');

    // The admin opens the dashboard; the customer keeps browsing; the live numbers move without a reload.
    // Views reach Redis once per flush interval (1 s); write the customer's now so the count below is exact.
    await shop.views.flush();
    const admin = await newPage();
    await admin.goto(`${base}/signin`);
    await admin.fill('input[name=username]', 'admin');
    await admin.fill('input[name=password]', 'admin-demo');
    await admin.click('[data-testid=signin]');
    await admin.goto(`${base}/admin`);
    await admin.waitForFunction(() => document.getElementById('views-today')?.textContent !== '–');
    const liveBefore = Number(await admin.textContent('[data-testid=live-views]'));
    expect(Number(await admin.textContent('[data-testid=views-today]'))).toBeGreaterThanOrEqual(6);

    for (const id of ['1', '2', '3']) await customer.goto(`${base}/products/${id}`);
    await admin.waitForFunction(
      (before) => Number(document.querySelector('[data-testid=live-views]')?.textContent) > before,
      liveBefore,
      { timeout: 15_000 },
    );
    expect(await admin.locator('[data-testid=live-feed] li').count()).toBeGreaterThan(0);

    // Leaving pages sends time-on-page beacons; the dashboard reports an average once they are stored.
    await customer.goto(`${base}/cart`);
    await admin.reload();
    await admin.waitForFunction(
      () => /s$/.test(document.getElementById('time-on-page')?.textContent ?? ''),
      null,
      {
        timeout: 15_000,
      },
    );
    await admin.waitForSelector('#views-chart');
    await shot(admin, '05-dashboard');
  });
});
