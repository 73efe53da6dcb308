// Batched writes: views are aggregated in process and written in one pipeline per interval, under 0.05 commands per
// counted view.
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { recordCommands } from '../helpers/commands.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { useTestRedis } from '../helpers/redis.js';
import {
  BROWSER_UA,
  eventually,
  HTML_PAGE,
  type Listening,
  listen,
  load,
  sleep,
  todayUtc,
} from './support.js';

const redis = useTestRedis();
const counting = useCountingServer();
const open: PageViewsMiddleware[] = [];
const servers: Listening[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(open.map((v) => v.close().catch(() => {})));
});

function app(views: PageViewsMiddleware) {
  const a = express();
  a.use(views);
  a.get('/p/:id', (_req, res) => {
    res.send(HTML_PAGE);
  });
  return a;
}

describe('batched writes', () => {
  it('sends one flush and one live summary per interval at sustained load, fewer than 0.05 commands a view', async () => {
    // a Redis of its own: every command counts, from any connection
    const client = counting.connect();
    await client.ping();
    const views = pageViews({ redis: client, prefix: 'load:', flushInterval: '250ms' });
    open.push(views);
    const server = await listen(app(views));
    servers.push(server);

    // eight waves of 500 views with pauses between them: the load spans many flush intervals
    const requests = 4_000;
    const started = performance.now();
    const { commands } = await counting.count(async () => {
      for (let wave = 0; wave < 8; wave++) {
        await load(server.url, 500, (i) => ({
          path: `/p/${i % 50}`,
          headers: { 'user-agent': `${BROWSER_UA} v${(wave * 500 + i) % 300}` },
        }));
        await sleep(150);
      }
      await views.close();
    });
    const intervals = Math.ceil((performance.now() - started) / 250);

    // the steady state, not one big final flush
    expect(views.stats().flushes).toBeGreaterThanOrEqual(4);
    // per interval a flush and a live summary at most, plus the final flush and one salt per period
    expect(commands.length).toBeLessThanOrEqual(2 * (intervals + 1) + 4);
    const perView = commands.length / requests;
    expect(perView).toBeLessThan(0.05);
    // only scripts: the batch flush, the live summary and (once per period) the salts
    expect(new Set(commands.map((c) => c[0]))).toEqual(new Set(['eval', 'evalsha']));

    const [total] = await views.totals({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(total?.views).toBe(requests);
    // 300 visitors; the HyperLogLog's standard error there is under 2 visitors
    expect(Math.abs((total?.uniques ?? 0) - 300)).toBeLessThanOrEqual(6);
  }, 60_000);

  it('makes no Redis call on the request path: views wait in process until the interval', async () => {
    const client = counting.connect();
    await client.ping();
    const views = pageViews({ redis: client, prefix: 'quiet:', flushInterval: '1h' });
    open.push(views);
    const server = await listen(app(views));
    servers.push(server);
    // nothing reaches Redis, on this connection or any other
    const quiet = await counting.count(async () => {
      await load(server.url, 200, (i) => ({ path: `/p/${i % 5}` }));
      await sleep(100);
    });
    expect(quiet.commands).toEqual([]);
    expect(quiet.processed).toBe(0);
    expect(views.stats()).toMatchObject({ bufferedViews: 200 });

    const flushRecorder = await recordCommands(client);
    await views.flush();
    const flushCommands = await flushRecorder.stop();
    // four salts (day, week, month, year) the first time, then one pipeline: the flush chunk and the live summary
    expect(flushCommands.filter((c) => c[0] === 'eval' || c[0] === 'evalsha')).toHaveLength(6);
    expect(views.stats()).toMatchObject({ bufferedViews: 0 });

    views.record({ route: '/p/:id' });
    const again = await recordCommands(client);
    await views.flush();
    expect(await again.stop()).toHaveLength(2);
    const [row] = await views.report({
      from: todayUtc(),
      to: todayUtc(),
      granularity: 'day',
      route: '/p/:id',
    });
    expect(row?.views).toBe(201);
  });

  it('flushes on the interval without being asked', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('timer:'), flushInterval: '100ms' });
    open.push(views);
    views.record({ route: '/x', visitor: 'a' });
    let rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      await sleep(50);
      rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    }
    expect(rows.map((r) => [r.route, r.views])).toEqual([['/x', 1]]);
  });

  it('loses nothing on a graceful shutdown: close the server, then the middleware', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('shutdown:'), flushInterval: '1h' });
    // every request is held inside the handler until the server is closing
    let arrived = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const shop = express();
    shop.use(views);
    shop.get('/p/:id', (_req, res) => {
      arrived += 1;
      held.then(() => res.send(HTML_PAGE));
    });
    const server = await listen(shop);
    const inFlight = load(server.url, 40, (i) => ({ path: `/p/${i}`, headers: { connection: 'close' } }), 40);
    await eventually(() => arrived === 40);
    const closing = server.closeGracefully();
    release();
    await inFlight;
    await closing;
    await views.close();
    const [total] = await views.totals({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(total?.views).toBe(40);
  });

  it('keeps no timer that holds the process open', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('unref:') });
    const live = views.live({ heartbeat: '1s' });
    expect(typeof live).toBe('function');
    expect(timers()).toBe(before);
    await views.close();
  });
});
