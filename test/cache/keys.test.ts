// What selects an entry, written as attacks: a forged Host, reordered repeated parameters, random query strings.

import { describe, expect, it } from 'vitest';
import { responseCache } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { readEntries, sleep } from './support.js';

const redis = useTestRedis();
let names = 0;

describe.each(expressVersions)('%s: cache keys', (_label, express) => {
  /** A page with absolute links built from the Host, as apps behind a proxy often do. */
  function linksApp(options: { query?: string[]; trustProxy?: boolean } = {}) {
    const name = `k${++names}`;
    const app = express();
    if (options.trustProxy) app.set('trust proxy', 'loopback');
    app.get(
      '/page',
      responseCache({
        redis: redis.connect(),
        prefix: redis.prefix('cache:'),
        name,
        ...(options.query ? { query: options.query } : {}),
      }),
      (req, res) => {
        // Behind a trusted proxy the app builds its links from the forwarded host, as Express 5's req.host does.
        const host = (options.trustProxy && req.get('x-forwarded-host')) || req.get('host');
        res.type('html').send(`<a href="${req.protocol}://${host}/next">next</a> ${req.query.a ?? ''}`);
      },
    );
    return { app, keyBase: redis.prefix(`cache:${name}:`) };
  }

  it('attack: a Host with userinfo never fills the entry of the real host', async () => {
    const { app, keyBase } = linksApp();
    const forged = await request(app).get('/page').set('Host', 'shop.example:@evil.example');
    expect(forged.headers['cache-status']).toBe('express-redis-kit; fwd=bypass');
    await sleep(30);
    expect(await readEntries(redis.client, keyBase)).toHaveLength(0);
    const visitor = await request(app).get('/page').set('Host', 'shop.example');
    expect(visitor.text).toContain('http://shop.example/next');
    expect(visitor.text).not.toContain('evil');
  });

  it('attack: another port of the same host gets its own entry', async () => {
    const { app } = linksApp();
    await request(app).get('/page').set('Host', 'shop.example:8443');
    await sleep(30);
    const visitor = await request(app).get('/page').set('Host', 'shop.example');
    expect(visitor.headers['cache-status']).not.toMatch(/hit/);
    expect(visitor.text).toContain('http://shop.example/next');
    const again = await request(app).get('/page').set('Host', 'SHOP.example');
    await sleep(30);
    expect((await request(app).get('/page').set('Host', 'shop.example')).headers['cache-status']).toMatch(
      /hit/,
    );
    expect(again.status).toBe(200);
  });

  it('attack: X-Forwarded-Host is part of the key only behind a trusted proxy', async () => {
    const direct = linksApp();
    const forged = await request(direct.app)
      .get('/page')
      .set('Host', 'shop.example')
      .set('X-Forwarded-Host', 'evil.example');
    expect(forged.text).toContain('//shop.example/');
    const proxied = linksApp({ trustProxy: true });
    await request(proxied.app)
      .get('/page')
      .set('Host', 'shop.example')
      .set('X-Forwarded-Host', 'evil.example');
    await sleep(30);
    const visitor = await request(proxied.app)
      .get('/page')
      .set('Host', 'internal')
      .set('X-Forwarded-Host', 'shop.example');
    expect(visitor.headers['cache-status']).not.toMatch(/hit/);
    expect(visitor.text).toContain('//shop.example/');
  });

  it('attack: repeated parameters in another order do not share an entry', async () => {
    const { app } = linksApp();
    await request(app).get('/page?a=evil&a=1').set('Host', 'shop.example');
    await sleep(30);
    const visitor = await request(app).get('/page?a=1&a=evil').set('Host', 'shop.example');
    expect(visitor.headers['cache-status']).not.toMatch(/hit/);
    expect(visitor.text).toMatch(/ 1(,evil)?$/);
  });

  it('attack: random query strings make no entries when the key lists its parameters', async () => {
    const { app, keyBase } = linksApp({ query: ['a'] });
    for (let i = 0; i < 5; i++)
      await request(app).get(`/page?r=${Math.random()}`).set('Host', 'shop.example');
    await request(app).get('/page?a=1&r=2').set('Host', 'shop.example');
    await sleep(30);
    expect(await readEntries(redis.client, keyBase)).toHaveLength(2);
    const hit = await request(app).get('/page?zz=3&a=1').set('Host', 'shop.example');
    expect(hit.headers['cache-status']).toMatch(/hit/);
  });
});
