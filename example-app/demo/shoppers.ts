// The demo's simulated shoppers: who they are and what they do, one visit at a time.
import { formField, type SimulatedBrowser } from './browser.js';

/** Browser user agents the shoppers use (desktop and mobile), so the devices and uniques look like people. */
export const USER_AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0',
];

/** Counts of what the shoppers got, for the progress line and the summary. */
export interface DemoCounters {
  requests: number;
  pageViews: number;
  orders: number;
  clamped: number;
  signIns: number;
  failedSignIns: number;
  limited: number;
  errors: number;
}

export type Shopper = (browser: SimulatedBrowser, counters: DemoCounters) => Promise<void>;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
const productIds = Array.from({ length: 20 }, (_, i) => String(i + 1));

/** Reads a few product pages as a visitor without a session: the pages come from the response cache. */
const windowShopper: Shopper = async (browser) => {
  await browser.page(pick(['/', '/?sort=price-asc', '/?category=Kitchen', '/?category=Desk']));
  await browser.read(between(200, 900));
  for (let i = between(2, 5); i > 0; i--) {
    await browser.page(`/products/${pick(productIds)}`);
    await browser.read(between(300, 1_500));
  }
  await browser.leavePage();
};

/** Fills a cart, sometimes asks for more than is left, signs in (or not) and checks out. */
const buyer: Shopper = async (browser, counters) => {
  await browser.page('/');
  await browser.read(between(200, 600));
  let token = '';
  for (let i = between(1, 3); i > 0; i--) {
    const id = pick(productIds);
    const product = await browser.page(`/products/${id}`);
    await browser.read(between(300, 1_200));
    token = formField(product.html, '_csrf') || token;
    // Some want a lot: the cart clamps it to the stock left and says so.
    const qty = Math.random() < 0.3 ? '20' : String(between(1, 2));
    const cart = await browser.submit('/cart/items', { _csrf: token, productId: id, qty });
    if (cart.html.includes('left: your cart holds') || cart.html.includes('sold out')) counters.clamped += 1;
    token = formField(cart.html, '_csrf') || token;
  }
  if (Math.random() < 0.6) {
    const signIn = await browser.page('/signin');
    const user = pick(['alice', 'bob']);
    const done = await browser.submit('/signin', {
      _csrf: formField(signIn.html, '_csrf'),
      username: user,
      password: `${user}-demo`,
      next: '/cart',
    });
    if (done.status === 200) counters.signIns += 1;
    await browser.read(between(200, 800));
  }
  const checkout = await browser.page('/checkout');
  if (!checkout.html.includes('data-testid="place-order"')) return;
  await browser.read(between(400, 1_500));
  const placed = await browser.submit('/checkout', {
    _csrf: formField(checkout.html, '_csrf'),
    idempotencyKey: formField(checkout.html, 'idempotencyKey'),
  });
  if (placed.html.includes('data-testid="order-id"')) counters.orders += 1;
  await browser.read(between(300, 1_000));
  await browser.leavePage();
};

/** Guesses passwords for an account that is not one of the demo users, until the limit stops it. */
const guesser: Shopper = async (browser, counters) => {
  const victim = pick(['carol', 'dave', 'erin']);
  for (let i = 0; i < 7; i++) {
    const signIn = await browser.page('/signin');
    const result = await browser.submit('/signin', {
      _csrf: formField(signIn.html, '_csrf'),
      username: victim,
      password: `summer${2020 + i}`,
    });
    if (result.status === 401) counters.failedSignIns += 1;
    if (result.status === 429) break;
    await browser.read(between(100, 300));
  }
};

/** A script on the JSON API that reads too fast: the API's per-second burst limit answers 429. */
const scraper: Shopper = async (browser) => {
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      browser.api('GET', i % 2 ? '/api/products' : `/api/products/${pick(productIds)}`),
    ),
  );
};

/** Who visits, and how often (weights). */
export const SHOPPERS: readonly [Shopper, number][] = [
  [windowShopper, 14],
  [buyer, 5],
  [guesser, 1],
  [scraper, 1],
];

/** The shopper for a visit: each kind once first (so even a short run fills every panel), then by weight. */
export function nextShopper(visit: number): Shopper {
  const first = SHOPPERS[visit - 1];
  if (first) return first[0];
  const total = SHOPPERS.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = Math.random() * total;
  for (const [shopper, weight] of SHOPPERS) {
    roll -= weight;
    if (roll < 0) return shopper;
  }
  return SHOPPERS[0]?.[0] as Shopper;
}
