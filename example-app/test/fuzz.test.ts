// Property-based bad input against the whole shop (its forms, JSON API and cached pages), sent as raw bytes:
// never a 5xx, and a refused request stores nothing (no session, no cart, no cache entry).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen, watchUnhandledRejections } from '../../test/faults/support.js';
import { type RawAnswer, type RawRequest, rawRequest } from '../../test/fuzz/raw-http.js';
import { useTestRedis } from '../../test/helpers/redis.js';
import type { ShopApp } from '../app.js';
import { testShop } from './helpers.js';

const redis = useTestRedis();
const rejections = watchUnhandledRejections();
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
let shop: ShopApp;
let served: Listening;
let port: number;
let prefix: string;

beforeAll(async () => {
  // Limits high enough that the handlers, not the rate limiter, answer the fuzzed requests.
  shop = await testShop(redis, 'fuzz', {
    api: { limit: 5_000, window: '1m', perSecond: 5_000 },
    signIn: { limit: 5_000, window: '1m' },
    checkout: { limit: 5_000, window: '1m' },
  });
  prefix = redis.prefix('fuzz:');
  served = await listen(shop.app);
  port = Number(new URL(served.url).port);
  // Warm the caches the fuzz may hit legitimately, so valid requests do not change the key set.
  for (let id = 1; id <= 20; id++) {
    await rawRequest(port, { target: `/products/${id}` });
    await rawRequest(port, { target: `/api/products/${id}` });
  }
  // The list page is stored for its known `sort` and `category` values, each possibly absent.
  for (const category of ['', ...(await shop.shop.catalog.categories())]) {
    for (const sort of ['', 'name', 'price-asc', 'price-desc']) {
      const query = [sort && `sort=${sort}`, category && `category=${category}`].filter(Boolean).join('&');
      await rawRequest(port, { target: query === '' ? '/' : `/?${query}` });
    }
  }
  await rawRequest(port, { target: '/api/products' });
  await new Promise((resolve) => setTimeout(resolve, 100));
});
afterAll(async () => {
  rejections.dispose();
  await served?.close();
});

/**
 * The shop's keys and their contents, except rate-limit logs (every request counts there by design) and page
 * views (written by the flush timer at any moment; checked at the end instead).
 */
async function snapshot(): Promise<Map<string, string>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch.filter((k) => !k.startsWith(`${prefix}rl:`) && !k.startsWith(`${prefix}pv:`)));
  } while (cursor !== '0');
  keys.sort();
  const pipeline = redis.client.pipeline();
  for (const key of keys) pipeline.dumpBuffer(key);
  const dumps = (await pipeline.exec()) ?? [];
  return new Map(keys.map((k, i) => [k, String((dumps[i]?.[1] as Buffer | null)?.toString('hex'))]));
}

/**
 * Sends a request; fails on a 5xx or no answer; when the shop refuses it (4xx), checks that no session
 * cookie was issued and no key was added or changed.
 */
async function refusedOrServed(request: RawRequest, allowed: readonly number[]): Promise<RawAnswer> {
  const before = await snapshot();
  const answer = await rawRequest(port, request);
  const line = answer.head.split('\r\n')[0];
  if (answer.status === null || answer.status >= 500) {
    throw new Error(`${line}: ${answer.body.toString().slice(0, 300)}`);
  }
  expect(allowed, `${line} ${answer.body.toString().slice(0, 200)}`).toContain(answer.status);
  if (answer.status >= 400) {
    expect(/set-cookie: sid=[^;\s]/i.test(answer.head), `${line}: a session for a refused request`).toBe(
      false,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect([...(await snapshot()).entries()]).toEqual([...before.entries()]);
  }
  return answer;
}

const lineBytes = (maxLength: number) =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a)));

const anyJson = fc.oneof(
  fc
    .record(
      {
        productId: fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.integer(),
          fc.double(),
          fc.constant(null),
          fc.constantFrom('1', '999999', '0', '-1', '1e3', ' 1', '20'),
        ),
        qty: fc.oneof(
          fc.integer({ min: -3, max: 30 }),
          fc.double(),
          fc.string({ maxLength: 4 }),
          fc.constant(null),
          fc.boolean(),
        ),
        priceCents: fc.integer(),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom(
    '{"productId":',
    '{"__proto__":{"productId":"1"}}',
    '[]',
    'null',
    '"1"',
    '{"productId":"1","qty":1}x',
  ),
);

const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/x-www-form-urlencoded',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/merge-patch+json',
    'APPLICATION/JSON',
  ),
);

const bodyOf = fc.oneof(
  { weight: 6, arbitrary: anyJson.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: 4_100, max: 40_000 }).map((n) => Buffer.alloc(n, ' ')) },
);

describe('the shop under bad input', () => {
  it('JSON API: cart additions with any body and content type', async () => {
    await fc.assert(
      fc.asyncProperty(
        contentType,
        bodyOf,
        fc.constantFrom('/api/cart/items', '/api/checkout', '/api/cart/items/abc'),
        async (type, body, path) => {
          const headers = type === null ? [] : [`Content-Type: ${type}`];
          await refusedOrServed({ method: 'POST', target: path, headers, body }, [200, 400, 404, 413, 415]);
        },
      ),
      { numRuns: RUNS },
    );
    expect(rejections.seen).toEqual([]);
  });

  it('JSON API and forms: well-formed additions of products that do not exist get a 404 and store nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 21, max: 999_999 }), fc.constant(0)).map(String),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        async (productId, qty, json) => {
          const request: RawRequest = json
            ? {
                method: 'POST',
                target: '/api/cart/items',
                headers: ['Content-Type: application/json'],
                body: JSON.stringify({ productId, qty }),
              }
            : {
                method: 'POST',
                target: '/cart/items',
                headers: ['Content-Type: application/x-www-form-urlencoded'],
                body: `productId=${productId}&qty=${qty}`,
              };
          const answer = await refusedOrServed(request, json ? [404] : [400]);
          expect(answer.status).toBeGreaterThanOrEqual(400);
        },
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('forms: cart, checkout and item updates with any fields and content types, without a session', async () => {
    const field = fc.oneof(
      fc.constantFrom(
        'productId',
        'qty',
        '_csrf',
        'idempotencyKey',
        '__proto__',
        'productId[]',
        'qty[a]',
        'constructor',
      ),
      fc.stringMatching(/^[a-z_[\]]{1,10}$/),
    );
    const value = fc.oneof(
      fc.constantFrom('1', '20', '21', '0', '-1', '1.5', '999999', '', 'abc', '%', '%ZZ', '%C0%AF'),
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
    );
    const form = fc
      .array(fc.tuple(field, value), { maxLength: 5 })
      .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/cart/items',
          '/checkout',
          '/cart/items/3',
          '/cart/items/xyz/remove',
          '/cart/items/3/remove',
          '/signout',
        ),
        fc.oneof(
          form.map((s) => Buffer.from(s)),
          lineBytes(200),
        ),
        fc.constantFrom('application/x-www-form-urlencoded', 'text/plain', 'application/json', null),
        async (path, body, type) => {
          const headers = type === null ? [] : [`Content-Type: ${type}`];
          await refusedOrServed(
            { method: 'POST', target: path, headers, body },
            [303, 400, 403, 404, 413, 415],
          );
        },
      ),
      { numRuns: RUNS },
    );
    expect(rejections.seen).toEqual([]);
  });

  it('counts only real pages: page views hold known routes only', async () => {
    await shop.views.flush();
    const today = new Date().toISOString().slice(0, 10);
    const routes = (await shop.views.report({ from: today, to: today, granularity: 'day' })).map(
      (r) => r.route,
    );
    expect(routes.filter((r) => !['/', '/products/:id'].includes(r))).toEqual([]);
  });

  it('a product page asked with a list filter in brackets is served but makes no cache entry', async () => {
    const before = await snapshot();
    for (const target of [
      '/products/1?sort[]=',
      '/products/2?category[0]=x&sort=',
      '/products/3?sort%5B%5D=a',
    ]) {
      expect((await refusedOrServed({ target }, [200])).status).toBe(200);
    }
    expect([...(await snapshot()).keys()].sort()).toEqual([...before.keys()].sort());
    expect(rejections.seen).toEqual([]);
  });

  it('pages and API reads: random product ids, paths and query strings create no cache entries', async () => {
    const id = fc.oneof(
      fc.integer({ min: 21, max: 999_999 }).map(String),
      fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/),
      fc.constantFrom('%', '%ZZ', '%C0%AF', '..', '%2e%2e', '0', '-1', '1e3', '00001'),
    );
    const query = fc.option(
      fc
        .array(
          fc.tuple(
            fc.constantFrom('sort', 'category', 'x', 'utm_source', '__proto__', 'sort[]'),
            fc.string({ maxLength: 10 }).map(encodeURIComponent),
          ),
          {
            maxLength: 4,
          },
        )
        .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/products/', '/api/products/', '/orders/', '/'),
        id,
        query,
        async (base, value, q) => {
          const target = base === '/' ? `/${q ?? ''}` : `${base}${value}${q ?? ''}`;
          const before = await snapshot();
          const answer = await refusedOrServed({ target }, [200, 400, 404]);
          // A page of a known product or the list may be served from the cache; it must not add an entry.
          if (answer.status === 200)
            expect([...(await snapshot()).keys()].sort()).toEqual([...before.keys()].sort());
        },
      ),
      { numRuns: RUNS },
    );
    expect(rejections.seen).toEqual([]);
  });
});
