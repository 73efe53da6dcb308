// The memory table of the benchmark report: MEMORY USAGE of what each middleware stores, made by the real
// middlewares on the benchmark's Redis.
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { pageViews, rateLimit, responseCache, session } from 'express-redis-kit';
import type { Redis } from 'ioredis';

const SECRET = 'bench-secret-that-is-at-least-32-characters-long';
const PREFIX = 'mem:';

async function withServer<T>(app: Express, run: (base: string) => Promise<T>): Promise<T> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function keys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

async function usage(redis: Redis, pattern: string): Promise<number> {
  let total = 0;
  for (const key of await keys(redis, pattern))
    total += Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
  return total;
}

async function sessionBytes(redis: Redis, data: Record<string, string>): Promise<number> {
  const prefix = `${PREFIX}s${Object.keys(data).length}${JSON.stringify(data).length}:`;
  const app = express();
  app.use(session({ redis, secret: SECRET, prefix }));
  app.post('/', (req, res) => {
    Object.assign(req.session, data);
    res.send('ok');
  });
  await withServer(app, (base) => fetch(base, { method: 'POST' }).then((r) => r.text()));
  return usage(redis, `${prefix}*`);
}

async function rateLimitBytes(redis: Redis, entries: number): Promise<number> {
  const prefix = `${PREFIX}rl:`;
  const limiter = rateLimit({ redis, name: 'mem', limit: entries, window: '1h', prefix, stats: false });
  for (let i = 0; i < entries; i++) await limiter.consume('203.0.113.7');
  await limiter.close();
  return usage(redis, `${prefix}mem:*`);
}

async function pageViewBytesPerRoute(redis: Redis, routes: number, visitors: number): Promise<number> {
  const prefix = `${PREFIX}pv:`;
  const views = pageViews({ redis, prefix, secret: SECRET, granularities: ['day'] });
  for (let r = 0; r < routes; r++) {
    for (let v = 0; v < visitors; v++) views.record({ route: `/route-${r}/:id`, visitor: `visitor-${v}` });
  }
  await views.flush();
  await views.close();
  // Counters and HyperLogLogs of the day (not the salts or live keys, which do not grow with routes).
  const day = new Date().toISOString().slice(0, 10);
  const total = (await usage(redis, `${prefix}*:d:${day}*`)) + (await usage(redis, `${prefix}*:u:d:${day}*`));
  return total / routes;
}

async function cacheOverhead(redis: Redis, bodyBytes: number): Promise<number> {
  const prefix = `${PREFIX}cache:`;
  const body = 'x'.repeat(bodyBytes);
  const app = express();
  app.get('/item', responseCache({ redis, name: 'mem', ttl: '5m', prefix }), (_req, res) => {
    res.type('text/plain').send(body);
  });
  await withServer(app, async (base) => {
    await (await fetch(`${base}/item`)).text();
  });
  return (await usage(redis, `${prefix}mem:e:*`)) - bodyBytes;
}

export async function memoryTable(redis: Redis): Promise<string> {
  const kb = 'k'.repeat(1024);
  const rows: [string, number][] = [
    [
      'session, anonymous, holding a cart id',
      await sessionBytes(redis, { cartId: 'anon-6f1c2b7e-4a0d-4d8e-9c57-2b1a3e5f7d90' }),
    ],
    ['session with 1 KB of data', await sessionBytes(redis, { profile: kb })],
    ['rate-limit key holding 100 entries', await rateLimitBytes(redis, 100)],
    [
      'page views, per route per day (20 visitors each, 50 routes)',
      await pageViewBytesPerRoute(redis, 50, 20),
    ],
    ['cached entry, overhead beyond a 1 KB body', await cacheOverhead(redis, 1024)],
  ];
  for (const key of await keys(redis, `${PREFIX}*`)) await redis.unlink(key);
  return [
    '| structure | bytes |',
    '|---|--:|',
    ...rows.map(([name, bytes]) => `| ${name} | ${Math.round(bytes)} |`),
  ].join('\n');
}
