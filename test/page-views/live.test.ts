// The live stream (Express 4 and 5): each flush publishes a summary; live() streams it as server-sent events with
// heartbeats, and cleans up.
import { connect } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { pageViews } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { BROWSER_UA, eventually, HTML_PAGE, type Listening, listen, openEventStream } from './support.js';

const redis = useTestRedis();
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function subscribers(channel: string): Promise<number> {
  const reply = (await redis.client.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

interface Summary {
  type: string;
  instance: string;
  views?: Record<string, number>;
  total?: number;
  live: { windowMs: number; visitors: number; views: number; routes: Record<string, number> };
}

describe.each(expressVersions)('%s', (versionName, express) => {
  let n = 0;
  async function setup(prefix = redis.prefix(`${versionName}-${++n}:`)) {
    const views = pageViews({ redis: redis.client, prefix, flushInterval: '1h' });
    cleanups.push(() => views.close());
    const app = express();
    app.use(views);
    app.get('/admin/live', views.live({ heartbeat: '150ms' }));
    app.get('/products/:id', (_req, res) => {
      res.send(HTML_PAGE);
    });
    const server: Listening = await listen(app);
    cleanups.push(() => server.close());
    return { views, app, server, channel: `${prefix}live`, prefix };
  }

  it('streams a snapshot, then a summary per flush, to every open stream over one subscriber', async () => {
    const { views, app, server, channel } = await setup();
    const a = await openEventStream(`${server.url}/admin/live`);
    const b = await openEventStream(`${server.url}/admin/live`);
    cleanups.push(async () => a.close());
    cleanups.push(async () => b.close());
    expect(a.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(a.response.headers['cache-control']).toBe('no-cache, no-transform');
    await a.until((text) => text.includes('event: snapshot'));
    await b.until((text) => text.includes('event: snapshot'));
    expect(a.text().startsWith('retry: 5000\n\n')).toBe(true);
    const snapshot = JSON.parse(a.events()[0]?.data ?? '{}') as Summary;
    expect(snapshot).toMatchObject({ type: 'snapshot', live: { windowMs: 300_000, visitors: 0, views: 0 } });
    // one subscriber connection for both streams
    expect(await subscribers(channel)).toBe(1);

    for (let i = 0; i < 3; i++)
      await request(app).get(`/products/${i}`).set('user-agent', BROWSER_UA).expect(200);
    await request(app).get('/products/9').set('user-agent', `${BROWSER_UA} second`).expect(200);
    await views.flush();
    for (const stream of [a, b]) {
      await stream.until((text) => text.includes('event: summary'));
      const summary = JSON.parse(stream.events().find((e) => e.event === 'summary')?.data ?? '{}') as Summary;
      expect(summary).toMatchObject({
        type: 'summary',
        views: { '/products/:id': 4 },
        total: 4,
        live: { windowMs: 300_000, visitors: 2, views: 4, routes: { '/products/:id': 4 } },
      });
    }
  });

  it('sends heartbeats while idle', async () => {
    const { server } = await setup();
    const stream = await openEventStream(`${server.url}/admin/live`);
    cleanups.push(async () => stream.close());
    await stream.until((text) => text.split(': heartbeat').length > 2);
  });

  it('cuts a stream whose client stops reading once 1 MB is pending, and keeps serving the others', async () => {
    const { views, server, channel } = await setup();
    const reader = await openEventStream(`${server.url}/admin/live`);
    cleanups.push(async () => reader.close());
    await reader.until((text) => text.includes('event: snapshot'));
    // a client that sends its request and never reads a byte
    const { port } = new URL(server.url);
    const stalled = connect(Number(port), '127.0.0.1');
    cleanups.push(async () => stalled.destroy());
    stalled.pause();
    stalled.on('error', () => {});
    stalled.write('GET /admin/live HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    await eventually(() => views.stats().liveStreams === 2);
    // summaries of 256 KB each, until the stalled stream's socket buffers are full and 1 MB more is pending
    const big = JSON.stringify({ type: 'summary', pad: 'x'.repeat(256 * 1024) });
    for (let i = 1; i <= 100 && views.stats().liveStreams === 2; i++) {
      await redis.client.publish(channel, big);
      await reader.until((text) => text.length > i * big.length);
    }
    expect(views.stats().liveStreams).toBe(1);
    // the reading stream is still served
    await redis.client.publish(channel, JSON.stringify({ type: 'summary', last: true }));
    await reader.until((text) => text.includes('"last":true'));
  }, 30_000);

  it('cleans up on disconnect: the last stream to leave closes the subscriber', async () => {
    const { views, server, channel } = await setup();
    const a = await openEventStream(`${server.url}/admin/live`);
    const b = await openEventStream(`${server.url}/admin/live`);
    await a.until((text) => text.includes('event: snapshot'));
    await b.until((text) => text.includes('event: snapshot'));
    expect(await subscribers(channel)).toBe(1);
    a.close();
    await eventually(() => views.stats().liveStreams === 1);
    expect(await subscribers(channel)).toBe(1);
    b.close();
    await eventually(async () => views.stats().liveStreams === 0 && (await subscribers(channel)) === 0);
    // a new stream subscribes again
    const c = await openEventStream(`${server.url}/admin/live`);
    cleanups.push(async () => c.close());
    await c.until((text) => text.includes('event: snapshot'));
    expect(await subscribers(channel)).toBe(1);
  });

  it('shows summaries of every instance sharing the prefix, and ends streams on close', async () => {
    const { server, prefix } = await setup();
    const other = pageViews({ redis: redis.client, prefix, flushInterval: '1h' });
    cleanups.push(() => other.close());
    const stream = await openEventStream(`${server.url}/admin/live`);
    await stream.until((text) => text.includes('event: snapshot'));
    other.record({ route: '/elsewhere', visitor: 'v' });
    await other.flush();
    await stream.until((text) => text.includes('/elsewhere'));
    const summary = JSON.parse(stream.events().find((e) => e.event === 'summary')?.data ?? '{}') as Summary;
    expect(summary.live.routes).toEqual({ '/elsewhere': 1 });

    const ended = new Promise<void>((resolve) => stream.response.on('end', () => resolve()));
    await (cleanups.shift() as () => Promise<unknown>)(); // closes the first middleware
    await ended;
  });
});
