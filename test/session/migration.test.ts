// The carry-over recipe of docs/migrating-from-express-session.md, run as printed against real express-session.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RedisStore } from 'connect-redis';
import type { RequestHandler } from 'express';
import express from 'express';
import expressSession from 'express-session';
import type { Redis } from 'ioredis';
import { createClient } from 'redis';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { codeBlocks, readPage } from '../docs/markdown.js';
import { redisUrl, useTestRedis } from '../helpers/redis.js';
import { cookieOf, cookieValue, data, keyOf, SECRET } from './support.js';

const redis = useTestRedis();
const OLD_SECRET = 'the secret express-session was configured with';
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(root, 'test/session/.migration-'));
let nodeRedis: ReturnType<typeof createClient>;
let carryOverExpressSessions: (client: Redis, secrets: readonly string[], prefix?: string) => RequestHandler;

beforeAll(async () => {
  const page = 'docs/migrating-from-express-session.md';
  const recipe = codeBlocks(page, readPage(page)).find((b) =>
    b.code.includes('function carryOverExpressSessions'),
  );
  expect(recipe, 'the carry-over recipe is on the migration page').toBeDefined();
  writeFileSync(join(dir, 'carry-over.ts'), recipe?.code ?? '');
  ({ carryOverExpressSessions } = await import(join(dir, 'carry-over.ts')));
  nodeRedis = createClient({ url: redisUrl() });
  await nodeRedis.connect();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await nodeRedis?.quit();
});

it('the documented carry-over moves an express-session session once, and only a genuinely signed one', async () => {
  const oldPrefix = redis.prefix('old:');
  const prefix = redis.prefix('new:');
  const before = express();
  before.use(
    expressSession({
      store: new RedisStore({ client: nodeRedis, prefix: oldPrefix }),
      secret: OLD_SECRET,
      resave: false,
      saveUninitialized: false,
    }),
  );
  before.post('/cart', (req, res) => {
    const old = req.session as unknown as Record<string, unknown>;
    old.cart = ['book'];
    old.passport = { user: 'u1' };
    res.sendStatus(204);
  });

  const after = express();
  after.use(session({ redis: redis.client, secret: SECRET, prefix }));
  after.use(carryOverExpressSessions(redis.client, [OLD_SECRET], oldPrefix));
  after.get('/state', (req, res) => {
    res.json({ ...data(req) });
  });

  const old = await request(before).post('/cart').expect(204);
  const oldCookie = cookieOf(old, 'connect.sid')?.split(';')[0] as string;
  const oldId = decodeURIComponent(oldCookie.slice('connect.sid='.length)).slice(2).split('.')[0];
  expect(await redis.client.exists(`${oldPrefix}${oldId}`)).toBe(1);

  // A tampered old cookie carries nothing over.
  const forged = await request(after)
    .get('/state')
    .set('Cookie', `connect.sid=${encodeURIComponent(`s:${oldId}.forgedsignature`)}`)
    .expect(200);
  expect(forged.body).toEqual({});
  expect(await redis.client.exists(`${oldPrefix}${oldId}`)).toBe(1);

  const moved = await request(after).get('/state').set('Cookie', oldCookie).expect(200);
  expect(moved.body).toEqual({ cart: ['book'], passport: { user: 'u1' } });
  expect(cookieOf(moved, 'connect.sid')).toMatch(/^connect\.sid=;/);
  const value = cookieValue(moved) as string;
  expect(await redis.client.hget(keyOf(prefix, value), 'cart')).toBe('["book"]');
  expect(await redis.client.exists(`${oldPrefix}${oldId}`)).toBe(0);

  // Moved once: the old cookie replayed alone names nothing any more; the new one carries the data.
  expect((await request(after).get('/state').set('Cookie', oldCookie).expect(200)).body).toEqual({});
  const next = await request(after).get('/state').set('Cookie', `sid=${value}`).expect(200);
  expect(next.body).toEqual({ cart: ['book'], passport: { user: 'u1' } });
});
