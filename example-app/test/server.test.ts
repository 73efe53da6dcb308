// `npm start` as a user runs it: the real entry point in a child process, against a real Redis.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redisUrl, useTestRedis } from '../../test/helpers/redis.js';
import { freePort, isListening } from '../../test/helpers/redis-server.js';
import { shopKeyPrefix } from '../settings.js';

const root = new URL('../..', import.meta.url).pathname;
const tsxCli = join(root, 'node_modules/tsx/dist/cli.mjs');

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const running: Running[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.child.kill('SIGKILL');
    await r.exited;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const redis = useTestRedis();

function run(script: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, [tsxCli, '--conditions=@express-redis-kit/source', script], {
    cwd: root,
    env: { ...process.env, SHOP_KEY_PREFIX: redis.namespace, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const r = { child, output: () => output, exited };
  running.push(r);
  return r;
}

async function keysMatching(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

const startShop = (env: Record<string, string>) => run('example-app/server.ts', env);

async function waitForLine(r: Running, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(r.output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${r.output()}`);
    if (r.child.exitCode !== null) throw new Error(`shop exited (${r.child.exitCode}):\n${r.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'erk-shop-'));
  dirs.push(dir);
  return join(dir, 'data');
}

describe('npm start', () => {
  it('serves /healthz with the Redis round-trip time, using REDIS_URL when it answers', async () => {
    const port = await freePort();
    const shop = startShop({ PORT: String(port), REDIS_URL: redisUrl(), SHOP_DATA_DIR: tempDataDir() });
    await waitForLine(shop, /listening on/);
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; redisRttMs: number };
    expect(body.status).toBe('ok');
    expect(body.redisRttMs).toBeGreaterThan(0);
    expect(shop.output()).not.toMatch(/private redis-server/);

    shop.child.kill('SIGTERM');
    expect(await shop.exited).toBe(0);
  });

  it('starts a private redis-server with AOF data when nothing answers, and stops it on SIGINT', async () => {
    const port = await freePort();
    const deadRedis = await freePort();
    const dataDir = tempDataDir();
    const shop = startShop({
      PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${deadRedis}`,
      SHOP_DATA_DIR: dataDir,
    });
    await waitForLine(shop, /listening on/);
    const line = shop.output().match(/started a private redis-server on redis:\/\/127\.0\.0\.1:(\d+)/);
    expect(line).not.toBeNull();
    const privatePort = Number(line?.[1]);
    expect(await isListening(privatePort)).toBe(true);

    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    expect(existsSync(dataDir)).toBe(true);
    expect(readdirSync(dataDir).some((name) => name.startsWith('appendonly'))).toBe(true);

    shop.child.kill('SIGINT');
    expect(await shop.exited).toBe(0);
    expect(await isListening(privatePort)).toBe(false);
  });

  it('exits with instructions when no Redis answers and redis-server is not installed', async () => {
    const deadRedis = await freePort();
    const shop = startShop({
      PORT: String(await freePort()),
      REDIS_URL: `redis://127.0.0.1:${deadRedis}`,
      SHOP_DATA_DIR: tempDataDir(),
      PATH: '',
    });
    expect(await shop.exited).toBe(1);
    expect(shop.output()).toMatch(/redis-server is not installed/);
    expect(shop.output()).toMatch(/REDIS_URL/);
  });

  it('keeps its keys under one namespace by default: kettle:', () => {
    const saved = process.env.SHOP_KEY_PREFIX;
    delete process.env.SHOP_KEY_PREFIX;
    try {
      expect(shopKeyPrefix()).toBe('kettle:');
    } finally {
      if (saved !== undefined) process.env.SHOP_KEY_PREFIX = saved;
    }
  });

  it('writes every key under SHOP_KEY_PREFIX, and `npm run seed` empties only that namespace', async () => {
    const port = await freePort();
    const shop = startShop({ PORT: String(port), REDIS_URL: redisUrl(), SHOP_DATA_DIR: tempDataDir() });
    await waitForLine(shop, /listening on/);
    const product = `${redis.namespace}shop:{shop}:product:1`;
    expect(await redis.client.hget(product, 'stock')).toBe('40');
    // A session, rate-limit entries and page views: every key the shop wrote is in its namespace.
    const base = `http://127.0.0.1:${port}`;
    const added = await fetch(`${base}/api/cart/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 Chrome/130.0.0.0' },
      body: JSON.stringify({ productId: '1', qty: 1 }),
    });
    expect(added.status).toBe(200);
    shop.child.kill('SIGTERM');
    expect(await shop.exited).toBe(0);
    const written = await keysMatching(`${redis.namespace}*`);
    for (const part of ['shop:', 'sess:', 'rl:']) {
      expect(written.some((key) => key.startsWith(`${redis.namespace}${part}`))).toBe(true);
    }

    // Another application's key in the same database, and one that only looks similar.
    const foreign = [`other-app:${redis.namespace}`, `${redis.namespace.slice(0, -1)}x:kept`];
    for (const key of foreign) await redis.client.set(key, 'theirs');
    await redis.client.hset(product, 'stock', 0);
    try {
      const seed = run('example-app/seed.ts', { REDIS_URL: redisUrl(), SHOP_DATA_DIR: tempDataDir() });
      expect(await seed.exited).toBe(0);
      expect(seed.output()).toMatch(/deleted \d+ key\(s\) under .* and seeded the demo catalog/);
      expect(await redis.client.hget(product, 'stock')).toBe('40');
      const left = await keysMatching(`${redis.namespace}*`);
      expect(left.filter((key) => !key.startsWith(`${redis.namespace}shop:`))).toEqual([]);
      for (const key of foreign) expect(await redis.client.get(key)).toBe('theirs');
    } finally {
      await redis.client.del(...foreign);
    }
  });
});
