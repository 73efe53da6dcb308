// Hits: one Redis round trip per hit, one packed binary entry written with one SET PX, binary bodies intact.

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'supertest';
import { describe, expect, it } from 'vitest';
import { KIND_ENTRY } from '../../src/cache/entry.js';
import { responseCache } from '../../src/index.js';
import { recordCommands } from '../helpers/commands.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { readEntries, scanKeys } from './support.js';

const redis = useTestRedis();

function parseBinary(res: Response, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as unknown as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
}

describe.each(expressVersions)('%s: a hit', (label, express) => {
  const id = label.replace(/\W/g, '');

  it('costs exactly one GET, and the entry is one string key with a TTL', async () => {
    const client = redis.connect();
    const cache = responseCache({
      redis: client,
      prefix: redis.prefix('cache:'),
      name: `hit${id}`,
      ttl: '1m',
    });
    const app = express();
    let calls = 0;
    app.get('/products/:id', cache, (req, res) => {
      calls++;
      res.json({ id: req.params.id });
    });
    const miss = await request(app).get('/products/7?b=2&a=1');
    expect(miss.status).toBe(200);
    expect(miss.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');

    const keyBase = redis.prefix(`cache:hit${id}:`);
    await client.ping();
    const keys = await scanKeys(redis.client, `${keyBase}*`);
    expect(keys).toHaveLength(1);
    const [entryKey] = keys as [string];
    expect(entryKey).toMatch(new RegExp(`^${keyBase}e:\\{[A-Za-z0-9_-]{43}\\}$`));
    expect(await redis.client.type(entryKey)).toBe('string');
    const pttl = await redis.client.pttl(entryKey);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect((await redis.client.getBuffer(entryKey))?.[0]).toBe(KIND_ENTRY);

    const recorder = await recordCommands(client);
    const hit = await request(app).get('/products/7?a=1&b=2');
    const commands = await recorder.stop();
    expect(hit.status).toBe(200);
    expect(hit.body).toEqual({ id: '7' });
    expect(hit.headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=\d+$/);
    expect(commands).toEqual([['mget', entryKey]]);
    expect(calls).toBe(1);
  });

  it('looks up entries with MGET, the requests of one turn of the event loop together', async () => {
    const client = redis.connect();
    const cache = responseCache({ redis: client, prefix: redis.prefix('cache:'), name: `batch${id}` });
    const app = express();
    app.get('/p/:n', cache, (req, res) => {
      res.json({ n: req.params.n });
    });
    const paths = ['/p/1', '/p/2', '/p/3', '/p/4'];
    const server = app.listen(0);
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      for (const path of paths) {
        // Stored once the miss is answered: ask until it is a hit.
        while (!(await fetch(url + path)).headers.get('cache-status')?.includes('; hit;')) await sleep(10);
      }
      await client.ping();
      const recorder = await recordCommands(client);
      // Four hits sent at once: their lookups leave in the same turn of the event loop.
      const hits = await Promise.all(paths.map((path) => fetch(url + path)));
      const bodies = await Promise.all(hits.map((hit) => hit.json()));
      const commands = await recorder.stop();
      expect(hits.map((hit) => hit.headers.get('cache-status'))).toEqual(
        paths.map(() => expect.stringMatching(/; hit;/)),
      );
      expect(bodies).toEqual([{ n: '1' }, { n: '2' }, { n: '3' }, { n: '4' }]);
      expect(commands.map((c) => c[0])).not.toContain('get');
      const lookups = commands.filter((c) => c[0] === 'mget');
      expect(lookups.flatMap((c) => c.slice(1)).sort()).toEqual(
        [...new Set(lookups.flatMap((c) => c.slice(1)))].sort(),
      );
      expect(lookups.flatMap((c) => c.slice(1))).toHaveLength(4);
    } finally {
      server.close();
    }
  });

  it('writes a miss with one SET ... PX of the packed entry (inside the store script)', async () => {
    const client = redis.connect();
    const cache = responseCache({
      redis: client,
      prefix: redis.prefix('cache:'),
      name: `set${id}`,
      ttl: '30s',
    });
    const app = express();
    app.get('/x', cache, (_req, res) => {
      res.type('text/plain').send('hello');
    });
    await client.ping();
    const recorder = await recordCommands(client);
    await request(app).get('/x');
    await new Promise((r) => setTimeout(r, 100));
    const commands = await recorder.stop();
    const names = commands.map((c) => c[0]);
    // lookup, lock + generation + the URL's invalidation count (sent together), store script (first use on
    // this connection: EVAL)
    expect(names.filter((n) => n === 'mget')).toHaveLength(1);
    expect(names.filter((n) => n === 'get')).toHaveLength(1);
    expect(names.filter((n) => n === 'set')).toHaveLength(1);
    expect(names.filter((n) => n === 'hget')).toHaveLength(1);
    expect(names.filter((n) => n === 'eval' || n === 'evalsha')).toHaveLength(1);
    expect(names).toHaveLength(5);
    const store = commands.find((c) => c[0] === 'eval' || c[0] === 'evalsha') as string[];
    expect(store.join(' ')).toContain("redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])");
    const [entry] = await readEntries(redis.client, redis.prefix(`cache:set${id}:`));
    expect(entry?.body.toString()).toBe('hello');
    expect(entry?.freshUntil).toBe((entry?.storedAt ?? 0) + 30_000);
  });

  it('gives binary bodies back byte for byte, from a Buffer and from a stream of chunks', async () => {
    const client = redis.connect();
    const cache = responseCache({ redis: client, prefix: redis.prefix('cache:'), name: `bin${id}` });
    const app = express();
    const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(70_000)]);
    let calls = 0;
    app.get('/blob', cache, (_req, res) => {
      calls++;
      res.type('application/octet-stream').send(body);
    });
    app.get('/chunks', cache, (_req, res) => {
      calls++;
      res.setHeader('content-type', 'image/png');
      for (let i = 0; i < body.length; i += 10_000) res.write(body.subarray(i, i + 10_000));
      res.end();
    });
    for (const path of ['/blob', '/chunks']) {
      const first = await request(app).get(path).buffer(true).parse(parseBinary);
      const second = await request(app).get(path).buffer(true).parse(parseBinary);
      expect(Buffer.compare(first.body as Buffer, body)).toBe(0);
      expect(second.headers['cache-status']).toMatch(/hit/);
      expect(Buffer.compare(second.body as Buffer, body)).toBe(0);
      expect(second.headers['content-length']).toBe(String(body.length));
    }
    expect(calls).toBe(2);
    const entries = await readEntries(redis.client, redis.prefix(`cache:bin${id}:`));
    expect(entries).toHaveLength(2);
    for (const e of entries) expect(Buffer.compare(e.body, body)).toBe(0);
  });

  it('keeps status, every header (repeated ones too) and the tags in the entry', async () => {
    const client = redis.connect();
    const cache = responseCache({
      redis: client,
      prefix: redis.prefix('cache:'),
      name: `hdr${id}`,
      tags: (req) => [`item:${req.params.id}`, 'items'],
    });
    const app = express();
    app.get('/items/:id', cache, (_req, res) => {
      res.status(404);
      res.append('Link', '</a>; rel=preload');
      res.append('Link', '</b>; rel=preload');
      res.set('X-Custom', 'yes').type('text/plain').send('gone fishing');
    });
    await request(app).get('/items/3');
    const hit = await request(app).get('/items/3');
    expect(hit.status).toBe(404);
    expect(hit.text).toBe('gone fishing');
    expect(hit.headers['x-custom']).toBe('yes');
    expect(hit.headers.link).toBe('</a>; rel=preload, </b>; rel=preload');
    expect(hit.headers['content-type']).toBe('text/plain; charset=utf-8');
    const [entry] = await readEntries(redis.client, redis.prefix(`cache:hdr${id}:`));
    expect(entry?.status).toBe(404);
    expect(entry?.tags).toEqual(['item:3', 'items']);
    expect(entry?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/items\/3$/);
  });

  it('shows the served fields to middlewares that look at the response when it finishes', async () => {
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `seen${id}`,
      ttl: '1m',
    });
    const app = express();
    // Like a logger or the page-view counter: reads the response's fields on 'finish'.
    const seen: (string | undefined)[] = [];
    app.disable('x-powered-by');
    app.use((_req, res, next) => {
      res.on('finish', () =>
        seen.push(`${res.statusCode} ${res.getHeader('content-type')} ${res.getHeader('cache-status')}`),
      );
      next();
    });
    app.get('/page', cache, (_req, res) => {
      res.type('html').send('<h1>hello</h1>');
    });
    await request(app).get('/page').expect(200);
    await request(app).get('/page').expect(200);
    expect(seen[1]).toMatch(/^200 text\/html; charset=utf-8 express-redis-kit; hit; ttl=\d+$/);
  });
});
