// Regenerates docs/dashboard.png: a private Redis, the shop, a few simulated visitors in Chromium, then the
// admin dashboard. Run: npx tsx --conditions=source test/e2e/dashboard-screenshot.ts
/// <reference lib="dom" />
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { createShopApp } from '../../example-app/app.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { DESKTOP_CHROME, launchChromium } from './browser.js';

const SECRET = 'screenshot-secret-that-is-at-least-32-characters';
const output = new URL('../../docs/dashboard.png', import.meta.url).pathname;

const server = await startRedisServer();
const { Redis } = await import('ioredis');
const redis = new Redis(server.url, { enableAutoPipelining: true });
const shop = await createShopApp({ redis, sessionSecrets: [SECRET], pageViewSecret: SECRET, log: () => {} });
const http = shop.app.listen(0, '127.0.0.1');
await new Promise((resolve) => http.once('listening', resolve));
const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
const browser: Browser = await launchChromium();

async function visitor(n: number): Promise<Page> {
  const context = await browser.newContext({
    userAgent: DESKTOP_CHROME.replace('Chrome/130', `Chrome/13${n % 10}`),
    viewport: { width: 1280, height: 900 },
  });
  return context.newPage();
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  // Eight visitors browse; some buy, one keeps guessing a password.
  for (let n = 0; n < 8; n++) {
    const page = await visitor(n);
    await page.goto(`${base}/`);
    for (const id of [1 + n, 3 + ((n * 7) % 17), 12].map(String)) {
      await page.goto(`${base}/products/${id}`);
      await pause(150 + n * 40);
    }
    if (n % 3 === 0) {
      await page.click(`[data-testid=add-12]`);
      await page.goto(`${base}/checkout`);
      await page.click('[data-testid=place-order]');
      await page.waitForURL(/\/orders\//);
    }
    await page.goto(`${base}/cart`);
    await page.context().close();
  }
  const guesser = await visitor(9);
  await guesser.goto(`${base}/signin`);
  for (let i = 0; i < 8; i++) {
    await guesser.goto(`${base}/signin`);
    await guesser.fill('input[name=username]', 'bob');
    await guesser.fill('input[name=password]', `guess-${i}`);
    await guesser.click('[data-testid=signin]');
  }

  const admin = await visitor(10);
  await admin.goto(`${base}/signin`);
  await admin.fill('input[name=username]', 'admin');
  await admin.fill('input[name=password]', 'admin-demo');
  await admin.click('[data-testid=signin]');
  await shop.views.flush();
  await Promise.all(shop.limiters.map((l) => l.close()));
  await admin.goto(`${base}/admin`);
  await admin.waitForFunction(() => document.getElementById('views-today')?.textContent !== '–');
  await pause(2_500);
  await admin.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  http.closeAllConnections();
  http.close();
  await shop.close().catch(() => {});
  redis.disconnect();
  await server.stop();
}
