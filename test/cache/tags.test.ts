// Tag invalidation on a standalone Redis: for every instance, no store after invalidation, tag set TTLs.
import type { RequestHandler } from 'express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { entryHash } from '../../src/cache/key.js';
import { ENTRY_PUT, TAG_ADD } from '../../src/cache/scripts.js';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { registerScript } from '../../src/redis/index.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { gate, publicHost, readEntries, sleep, waitFor } from './support.js';

const redis = useTestRedis();
let names = 0;

function instance(name: string, handler: RequestHandler, options: Partial<ResponseCacheOptions> = {}) {
  const cache = responseCache({
    redis: redis.connect(),
    prefix: redis.prefix('cache:'),
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

describe('tag invalidation', () => {
  it('removes every entry carrying the tag, as seen by every instance', async () => {
    const name = `t${++names}`;
    const version: Record<string, number> = { 1: 1, 2: 1, 3: 1 };
    const handler: RequestHandler = (req, res) => {
      res.json({ id: req.params.id, v: version[req.params.id as string] });
    };
    const a = instance(name, handler);
    const b = instance(name, handler);
    for (const id of ['1', '2', '3']) await request(a.app).get(`/products/${id}`);
    await sleep(50);
    for (const id of ['1', '2', '3']) {
      expect((await request(b.app).get(`/products/${id}`)).headers['cache-status']).toMatch(/hit/);
    }
    version[1] = 2;
    expect(await b.cache.invalidate('product:1')).toBe(1);
    const afterA = await request(a.app).get('/products/1');
    expect(afterA.body).toEqual({ id: '1', v: 2 });
    expect(afterA.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    expect((await request(b.app).get('/products/2')).headers['cache-status']).toMatch(/hit/);
    await sleep(50);
    version[2] = 2;
    version[3] = 2;
    expect(await a.cache.invalidate(['catalog', 'product:2'])).toBe(3);
    for (const id of ['2', '3']) {
      const res = await request(b.app).get(`/products/${id}`);
      expect(res.body.v).toBe(2);
      expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    }
    expect(await a.cache.invalidate('product:404')).toBe(0);
  });

  it('does not store a render that began before the invalidation, and its waiters go to the handler', async () => {
    const name = `t${++names}`;
    const hold = gate();
    let version = 1;
    let renders = 0;
    const handler: RequestHandler = async (req, res) => {
      renders++;
      const v = version;
      if (renders === 1) await hold.promise;
      res.json({ id: req.params.id, v });
    };
    const a = instance(name, handler);
    const first = request(a.app)
      .get('/products/9')
      .then((r) => r);
    await waitFor(() => renders === 1, 'the render to begin');
    const joiner = request(a.app)
      .get('/products/9')
      .then((r) => r);
    await sleep(50);
    // The data changes and the app invalidates while the old render is still running.
    version = 2;
    expect(await a.cache.invalidate('product:9')).toBe(0);
    hold.open();
    expect((await first).body).toEqual({ id: '9', v: 1 });
    const waited = await joiner;
    expect(waited.body).toEqual({ id: '9', v: 2 });
    await sleep(50);
    const next = await request(a.app).get('/products/9');
    expect(next.body).toEqual({ id: '9', v: 2 });
    const entries = await readEntries(redis.client, redis.prefix(`cache:${name}:`));
    expect(entries.map((e) => JSON.parse(e.body.toString()).v)).toEqual([2]);
  });

  it('refuses the store when the invalidation lands between adding the tags and writing the entry', async () => {
    // The fill protocol step by step, with an invalidation at the worst moment: after the tag set took the
    // entry, before the SET. The invalidation leaves a tombstone that the SET respects.
    const name = `t${++names}`;
    const client = redis.connect();
    const { cache } = instance(name, (_req, res) => {
      res.end();
    });
    const keyBase = redis.prefix(`cache:${name}:`);
    const hash = entryHash('k', '', undefined);
    const tagAdd = registerScript(client, TAG_ADD);
    const entryPut = registerScript(client, ENTRY_PUT);
    const tag = [`${keyBase}t:{product:1}`, `${keyBase}i:{product:1}`];
    const entry = [`${keyBase}e:${hash}`, `${keyBase}l:${hash}`, `${keyBase}u:${hash}`];
    const g0 = Number((await client.get(`${keyBase}g`)) ?? 0);
    expect(await tagAdd(tag, [hash, 60_000, g0, 65_000])).toBe(1);
    expect(await cache.invalidate('product:1')).toBe(1);
    expect(await entryPut(entry, [Buffer.from([0xe1]), 60_000, g0, '', '', '0', 65_000])).toBe(0);
    expect((await client.getBuffer(entry[0] as string))?.[0]).toBe(0xd1);
    // ... and the other order: invalidated before the tags are added.
    const g1 = Number((await client.get(`${keyBase}g`)) ?? 0) - 1;
    expect(await tagAdd(tag, [hash, 60_000, g1, 65_000])).toBe(0);
    // A render that began after the invalidation stores normally, over the tombstone.
    const g2 = Number(await client.get(`${keyBase}g`));
    expect(await tagAdd(tag, [hash, 60_000, g2, 65_000])).toBe(1);
    expect(await entryPut(entry, [Buffer.from([0xe1]), 60_000, g2, '', '', '0', 65_000])).toBe(1);
  });

  it('keeps each tag set alive at least as long as its entries, and not much longer', async () => {
    const name = `t${++names}`;
    const { app } = instance(
      name,
      (req, res) => {
        res.set('Cache-Control', `max-age=${req.params.id}`).send('x');
      },
      { tags: () => ['shared'], staleWhileRevalidate: '10s', ttl: '1h', lockTimeout: '5s' },
    );
    const tagKey = redis.prefix(`cache:${name}:t:{shared}`);
    const margin = 65_000;
    await request(app).get('/products/100');
    await sleep(50);
    const entryTtl = async () =>
      Math.max(
        ...(await Promise.all(
          (
            await readEntries(redis.client, redis.prefix(`cache:${name}:`))
          ).map((e) => redis.client.pttl(e.key)),
        )),
      );
    let tagTtl = await redis.client.pttl(tagKey);
    expect(tagTtl).toBeGreaterThanOrEqual(await entryTtl());
    expect(tagTtl).toBeLessThanOrEqual(110_000 + margin);
    await request(app).get('/products/3000');
    await sleep(50);
    tagTtl = await redis.client.pttl(tagKey);
    expect(tagTtl).toBeGreaterThan(3_000_000);
    expect(tagTtl).toBeGreaterThanOrEqual(await entryTtl());
    // A shorter-lived entry never shortens the set.
    await request(app).get('/products/5');
    await sleep(50);
    expect(await redis.client.pttl(tagKey)).toBeGreaterThan(3_000_000);
    expect(await redis.client.hlen(tagKey)).toBe(3);
  });

  it('drops expired members of a busy tag set as new ones arrive', async () => {
    const client = redis.connect();
    const tagAdd = registerScript(client, TAG_ADD);
    const keys = [redis.prefix('gc:t:{busy}'), redis.prefix('gc:i:{busy}')];
    await tagAdd(keys, ['live', 60_000, 0, 0]);
    // Members that outlive the adds below (so the count is exact), then expire before the next ones.
    for (let i = 0; i < 40; i++) await tagAdd(keys, [`dead${i}`, 1_000, 0, 0]);
    expect(await client.hlen(keys[0] as string)).toBe(41);
    await sleep(1_100);
    for (let i = 0; i < 200; i++) await tagAdd(keys, ['live', 60_000, 0, 0]);
    const left = await client.hkeys(keys[0] as string);
    expect(left).toContain('live');
    expect(left.length).toBeLessThanOrEqual(32);
    expect(await client.pttl(keys[0] as string)).toBeGreaterThan(50_000);
  });
});
