// The dashboard after `npm run demo` has driven the shop for a few seconds: every panel has data. Retakes
// the README's screenshot, docs/dashboard.png.
/// <reference lib="dom" />
import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShopApp, type ShopApp } from '../../example-app/app.js';
import { useTestRedis } from '../helpers/redis.js';
import { DESKTOP_CHROME, launchChromium } from './browser.js';

const root = new URL('../..', import.meta.url).pathname;
const SCREENSHOT = new URL('../../docs/dashboard.png', import.meta.url).pathname;
const SECRET = 'e2e-dashboard-secret-at-least-32-characters';

const redis = useTestRedis();
let shop: ShopApp;
let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  shop = await createShopApp({
    redis: redis.client,
    sessionSecrets: [SECRET],
    pageViewSecret: SECRET,
    prefix: redis.prefix('demo:'),
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

/** `npm run demo` against this shop, as a user runs it; resolves with its output once it has exited. */
function runDemo(seconds: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@express-redis-kit/source', '--import', 'tsx', 'example-app/demo.ts'],
    {
      cwd: root,
      env: { ...process.env, SHOP_URL: base, DEMO_SECONDS: String(seconds) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

describe('the dashboard after a demo run', () => {
  it('fills every panel: views, uniques, time on page, cache, rate-limit blocks, orders and the workers', async () => {
    const demo = await runDemo(12);
    expect(demo.output).toMatch(/\[demo\] +\d+ s of 12: \d+ requests/);
    expect(demo.output).toMatch(/done in \d+ s: \d+ visits/);
    expect(demo.code, demo.output).toBe(0);
    // Write buffered views and limiter stats now rather than within the next interval.
    await shop.views.flush();
    await Promise.all(shop.limiters.map((l) => l.close()));

    const context = await browser.newContext({
      userAgent: DESKTOP_CHROME,
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
    });
    const admin = await context.newPage();
    admin.on('pageerror', (error) => {
      throw error;
    });
    await admin.goto(`${base}/signin`);
    await admin.fill('input[name=username]', 'admin');
    await admin.fill('input[name=password]', 'admin-demo');
    await admin.click('[data-testid=signin]');
    await admin.goto(`${base}/admin`);
    await admin.waitForFunction(() => document.getElementById('views-today')?.textContent !== '–');

    const text = async (id: string) => (await admin.textContent(`[data-testid=${id}]`)) ?? '';
    expect(Number(await text('views-today'))).toBeGreaterThan(30);
    expect(Number(await text('uniques-today'))).toBeGreaterThanOrEqual(4);
    // Beacons report several seconds of reading per page, not a fraction of one.
    expect(Number.parseFloat(await text('time-on-page'))).toBeGreaterThan(2);
    expect(await text('cache-ratio')).toMatch(/^\d+%$/);
    expect(Number((await text('orders-today')).split(' ')[0])).toBeGreaterThan(0);
    expect(await text('queue')).toMatch(/^\d+ \/ \d+ \/ 0$/);
    expect(await admin.locator('[data-testid=workers] tr').count()).toBe(1);
    // The scraper met the API's burst limit.
    const limits = await admin
      .locator('#limits tr')
      .evaluateAll((rows) =>
        rows.map((row) => Array.from(row.querySelectorAll('td'), (td) => td.textContent ?? '')),
      );
    const api = limits.find((row) => row[0] === 'api');
    expect(Number(api?.[2])).toBeGreaterThan(0);
    expect(await admin.locator('#top-pages tr').count()).toBeGreaterThan(3);

    // Let the live panel and the charts draw, then retake the README's screenshot.
    await admin.waitForFunction(
      () => (document.getElementById('live-feed')?.children.length ?? 0) > 0,
      null,
      {
        timeout: 15_000,
      },
    );
    await admin.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
