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

async function newPage(options: { locale?: string; timezoneId?: string } = {}): Promise<Page> {
  const context = await browser.newContext({
    userAgent: DESKTOP_CHROME,
    viewport: { width: 1280, height: 900 },
    ...options,
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
    // The customer's eight pages (/, the product, the cart, sign-in, / again, the cart, checkout, the order)
    // were flushed above; the admin's own three (sign-in, the page after it, /admin) may or may not have been
    // written by the 1 s flush timer when the dashboard asked.
    const viewsToday = Number(await admin.textContent('[data-testid=views-today]'));
    expect(viewsToday).toBeGreaterThanOrEqual(8);
    expect(viewsToday).toBeLessThanOrEqual(11);

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

  it('clamps a cart to the stock left and says so', async () => {
    const page = await newPage();
    // Mechanical keyboard: 5 in stock.
    await page.goto(`${base}/products/14`);
    expect(await page.textContent('main')).toContain('Only 5 left');
    await page.fill('input[name=qty]', '20');
    await page.click('[data-testid=add-14]');
    await page.waitForURL(`${base}/cart`);
    expect(await page.textContent('.flash')).toBe('Only 5 left: your cart holds 5.');
    expect(await page.textContent('[data-testid=cart-count]')).toBe('5');
    expect(await page.inputValue('[data-testid=line-14] input[name=qty]')).toBe('5');
    await shot(page, '06-cart-clamped');
  });

  it('refuses a wrong password, then signs in with the right one, and lists the devices as people read them', async () => {
    const page = await newPage({ locale: 'en-GB', timezoneId: 'Europe/Berlin' });
    await page.goto(`${base}/signin`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', 'not-her-password');
    await page.click('[data-testid=signin]');
    expect(await page.textContent('[role=alert]')).toBe('That username and password do not match.');
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', 'alice-demo');
    await page.click('[data-testid=signin]');
    await page.waitForURL(`${base}/`);
    expect(await page.textContent('.flash')).toBe('Welcome back, Alice.');

    // A second device, a phone, signs in too.
    const phone = await (
      await browser.newContext({
        userAgent:
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      })
    ).newPage();
    await phone.goto(`${base}/signin`);
    await phone.fill('input[name=username]', 'alice');
    await phone.fill('input[name=password]', 'alice-demo');
    await phone.click('[data-testid=signin]');
    await phone.waitForURL(`${base}/`);

    await page.click('text=Your devices');
    await page.waitForURL(`${base}/account/devices`);
    const current = page.locator('tr.current');
    expect(await current.locator('[data-testid=device-name]').textContent()).toBe('Chrome 130 on Linux');
    expect(await current.locator('[data-testid=this-device]').textContent()).toBe('this device');
    expect(await current.locator('[data-testid=device-ip]').textContent()).toBe('127.0.0.1');
    const names = await page.locator('[data-testid=device-name]').allTextContents();
    expect(names).toContain('Safari 17 on iOS');
    expect(await page.locator('[data-testid=this-device]').count()).toBe(1);
    // Times in the viewer's locale and time zone (Berlin in December: CET), not the server's UTC.
    const times = await current.locator('time').allTextContents();
    expect(times).toHaveLength(3);
    for (const text of times) {
      expect(text).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (CET|CEST|GMT\+1|GMT\+2)$/);
    }
    await shot(page, '07-devices');
  });
});
