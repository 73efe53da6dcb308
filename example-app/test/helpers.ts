// Builds the shop against the test Redis under a fresh key prefix, and helpers to drive its forms.
import { afterAll } from 'vitest';
import type { TestRedis } from '../../test/helpers/redis.js';
import { createShopApp, type ShopApp, type ShopLimits } from '../app.js';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

/** A shop on the test Redis with its own prefix; closed after the file. */
export async function testShop(
  redis: TestRedis,
  name = 'web',
  limits: Partial<ShopLimits> = {},
): Promise<ShopApp> {
  const shop = await createShopApp({
    redis: redis.client,
    sessionSecrets: [TEST_SECRET],
    pageViewSecret: TEST_SECRET,
    prefix: redis.prefix(`${name}:`),
    worker: false,
    limits,
    log: () => {},
  });
  afterAll(() => shop.close());
  return shop;
}

/** The CSRF token in a page's forms. */
export function csrfOf(html: string): string {
  const token = /name="_csrf" value="([^"]*)"/.exec(html)?.[1];
  if (token === undefined) throw new Error('no CSRF field in the page');
  return token;
}
