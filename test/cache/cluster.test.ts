// On Redis Cluster: entries of one tag in many slots, tag invalidation, the race guard, coalescing, clear().
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import express from 'express';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { request } from '../helpers/http.js';
import { gate, publicHost, readEntries, scanKeys, sleep, waitFor } from './support.js';

let cluster: RedisCluster;
let admin: Cluster;
const servers: Server[] = [];

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  admin = cluster.client();
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await cluster?.stop();
});

let names = 0;
function instance(name: string, handler: RequestHandler, options: Partial<ResponseCacheOptions> = {}) {
  const cache = responseCache({
    redis: cluster.client(),
    name,
    ttl: '1m',
    tags: (req) => [`product:${req.params.id}`, 'catalog'],
    ...options,
  });
  const app = express();
  app.use(publicHost);
  app.get('/products/:id', cache, handler);
  return { app, cache };
}

describe('on a Redis Cluster', () => {
  it('invalidates a tag whose entries live in many slots on every master', async () => {
    const name = `k${++names}`;
    const version = { value: 1 };
    const handler: RequestHandler = (req, res) => {
      res.json({ id: req.params.id, v: version.value });
    };
    const a = instance(name, handler);
    const b = instance(name, handler);
    const ids = Array.from({ length: 24 }, (_, i) => String(i));
    for (const id of ids) await request(a.app).get(`/products/${id}`);
    await sleep(50);
    const entries = await readEntries(admin, `cache:${name}:`);
    expect(entries).toHaveLength(24);
    const perNode = await Promise.all(
      admin
        .nodes('master')
        .map(async (node) => (await node.scan('0', 'MATCH', `cache:${name}:e:*`, 'COUNT', 1000))[1].length),
    );
    expect(perNode.filter((n) => n > 0)).toHaveLength(3);
    for (const id of ids)
      expect((await request(b.app).get(`/products/${id}`)).headers['cache-status']).toMatch(/hit/);

    version.value = 2;
    expect(await b.cache.invalidate('catalog')).toBe(24);
    for (const id of ids) {
      const res = await request(a.app).get(`/products/${id}`);
      expect(res.body.v).toBe(2);
      expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    }
    await sleep(50);
    expect(await a.cache.invalidate(['product:3', 'product:17'])).toBe(2);
    expect((await request(b.app).get('/products/3')).headers['cache-status']).not.toMatch(/hit/);
    expect((await request(b.app).get('/products/4')).headers['cache-status']).toMatch(/hit/);
  });

  it('does not store a render that began before an invalidation', async () => {
    const name = `k${++names}`;
    const hold = gate();
    let version = 1;
    let renders = 0;
    const a = instance(name, async (req, res) => {
      renders++;
      const v = version;
      if (renders === 1) await hold.promise;
      res.json({ id: req.params.id, v });
    });
    const slow = request(a.app)
      .get('/products/1')
      .then((r) => r);
    await waitFor(() => renders === 1, 'the render');
    version = 2;
    await a.cache.invalidate('product:1');
    hold.open();
    expect((await slow).body.v).toBe(1);
    await sleep(50);
    const next = await request(a.app).get('/products/1');
    expect(next.body.v).toBe(2);
    expect(next.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
  });

  it('coalesces concurrent misses across two instances (lock and entry share a slot)', async () => {
    const name = `k${++names}`;
    const hold = gate();
    let renders = 0;
    const handler: RequestHandler = async (_req, res) => {
      renders++;
      await hold.promise;
      res.send('one render');
    };
    const urls: string[] = [];
    for (const app of [instance(name, handler).app, instance(name, handler).app]) {
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await once(server, 'listening');
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    const all = Promise.all(
      Array.from({ length: 20 }, (_, i) => request(urls[i % 2] as string).get('/products/1')),
    );
    try {
      await waitFor(() => renders === 1, 'the render');
      await sleep(300);
    } finally {
      hold.open();
    }
    const responses = await all;
    expect(renders).toBe(1);
    expect(responses.every((r) => r.text === 'one render')).toBe(true);
  });

  it("clears this cache's keys on every master and nothing else", async () => {
    const name = `k${++names}`;
    const a = instance(name, (req, res) => {
      res.send(req.params.id);
    });
    const other = instance(`${name}x`, (req, res) => {
      res.send(req.params.id);
    });
    for (let i = 0; i < 15; i++) {
      await request(a.app).get(`/products/${i}`);
      await request(other.app).get(`/products/${i}`);
    }
    await admin.set(`cache:${name}`, 'not ours either');
    await sleep(50);
    const removed = await a.cache.clear();
    expect(removed).toBe(15 + 16);
    expect(await scanKeys(admin, `cache:${name}:[etl]:*`)).toEqual([]);
    expect(await scanKeys(admin, `cache:${name}x:e:*`)).toHaveLength(15);
    expect(await admin.get(`cache:${name}`)).toBe('not ours either');
    expect((await request(a.app).get('/products/1')).headers['cache-status']).toBe(
      'express-redis-kit; fwd=miss; stored',
    );
    await waitFor(async () => (await readEntries(admin, `cache:${name}:`)).length === 1, 'the last store');
  });

  it('invalidates every variant and private scope of a URL after a write, with one script on its slot', async () => {
    const name = `k${++names}`;
    const stock = { value: 0 };
    const cache = responseCache({
      redis: cluster.client(),
      name,
      ttl: '1m',
      vary: ['accept-language'],
      privateScope: (req) => req.headers.authorization,
    });
    const app = express();
    app.use(cache);
    app.get('/products/:id', (req, res) => {
      res.set('Vary', 'Accept-Language').json({ id: req.params.id, stock: stock.value });
    });
    app.post('/products/:id', (_req, res) => {
      stock.value++;
      res.sendStatus(204);
    });
    const variants = [
      { 'accept-language': 'en' },
      { 'accept-language': 'fr' },
      { 'accept-language': 'de' },
      { 'accept-language': 'en', authorization: 'Bearer alice' },
      { 'accept-language': 'en', authorization: 'Bearer bob' },
    ];
    for (const headers of variants) await request(app).get('/products/9').set(headers);
    await request(app).get('/products/10').set('accept-language', 'en');
    await waitFor(async () => (await readEntries(admin, `cache:${name}:`)).length === 6, 'six entries');
    // All entries of /products/9 share one slot: the URL's hash tag.
    const keys = (await scanKeys(admin, `cache:${name}:e:*`)).map((k) =>
      k.slice(k.indexOf('{'), k.indexOf('}') + 1),
    );
    expect(new Set(keys).size).toBe(2);
    expect((await request(app).post('/products/9')).status).toBe(204);
    const left = await readEntries(admin, `cache:${name}:`);
    expect(left.map((e) => e.url)).toEqual([expect.stringMatching(/\/products\/10$/)]);
    for (const headers of variants) {
      expect((await request(app).get('/products/9').set(headers)).body.stock).toBe(1);
    }
  });
});
