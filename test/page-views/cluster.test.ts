// Redis Cluster: everything works on a real 3-master cluster, and all keys share one slot.
import express from 'express';
import type { Cluster } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import {
  BROWSER_UA,
  configOf,
  HTML_PAGE,
  isoWeek,
  type Listening,
  listen,
  openEventStream,
  scriptSrc,
  shiftDay,
  todayUtc,
} from './support.js';

let cluster: RedisCluster;
let client: Cluster;
let views: PageViewsMiddleware;
let server: Listening;
const app = express();

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  client = cluster.client();
  views = pageViews({
    redis: client,
    secret: 'cluster-test-secret-0123456789abcdefghij',
    flushInterval: '1h',
  });
  app.use(views);
  app.get('/live', views.live());
  app.get('/products/:id', (req, res) => {
    res.send(`${HTML_PAGE}${views.scriptTag(req)}`);
  });
  app.get('/', (req, res) => {
    res.send(`${HTML_PAGE}${views.scriptTag(req)}`);
  });
  server = await listen(app);
});

afterAll(async () => {
  await server?.close();
  await views?.close().catch(() => {});
  await cluster?.stop();
});

async function allKeys(): Promise<Map<string, string[]>> {
  const byNode = new Map<string, string[]>();
  for (const node of client.nodes('master')) {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', 'pv:*', 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    byNode.set(`${node.options.port}`, found);
  }
  return byNode;
}

describe('on Redis Cluster', () => {
  it('counts, reports, stores beacons and streams live summaries, with every key in one slot', async () => {
    const stream = await openEventStream(`${server.url}/live`);
    await stream.until((text) => text.includes('event: snapshot'));

    for (let i = 0; i < 6; i++) {
      await request(app)
        .get(`/products/${i}`)
        .set('user-agent', `${BROWSER_UA} ${i % 2}`)
        .expect(200);
    }
    const home = await request(app).get('/').set('user-agent', BROWSER_UA).expect(200);
    const script = await request(app).get(scriptSrc(home.text)).expect(200);
    await request(app)
      .post('/_pv')
      .set('content-type', 'text/plain')
      .send(JSON.stringify({ t: configOf(script.text).t, s: 1, ms: 20_000 }))
      .expect(204);
    // A view on another day of this year, in another ISO week: a week before (or, early in January, after).
    const other = otherDayThisYear();
    views.record({ route: '/products/:id', visitor: 'late', at: Date.parse(`${other}T12:00:00Z`) });
    await views.flush();

    const today = todayUtc();
    const rows = await views.report({ from: today, to: today, granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views, r.uniques, r.avgTimeOnPageMs])).toEqual([
      ['/products/:id', 6, 2, null],
      ['/', 1, 1, 20_000],
    ]);
    const top = await views.top({ granularity: 'year', period: today.slice(0, 4), limit: 1 });
    expect(top.map((r) => [r.route, r.views, r.uniques])).toEqual([['/products/:id', 7, 3]]);
    const week = isoWeek(other);
    expect(week).not.toBe(isoWeek(today));
    expect(await views.totals({ from: week, to: week, granularity: 'week' })).toEqual([
      { period: week, views: 1, uniques: 1 },
    ]);

    await stream.until((text) => text.includes('event: summary'));
    const summary = JSON.parse(stream.events().find((e) => e.event === 'summary')?.data ?? '{}');
    // the view recorded for another day is not live
    expect(summary.views).toEqual({ '/products/:id': 6, '/': 1 });
    expect(summary.live.visitors).toBe(3);
    stream.close();

    const byNode = await allKeys();
    const nodesWithKeys = [...byNode.values()].filter((keys) => keys.length > 0);
    expect(nodesWithKeys).toHaveLength(1);
    const keys = nodesWithKeys[0] as string[];
    expect(keys.length).toBeGreaterThan(20);
    const slots = new Set(await Promise.all(keys.map((k) => client.call('CLUSTER', 'KEYSLOT', k))));
    expect(slots.size).toBe(1);
    expect(keys.every((k) => k.startsWith('pv:{pv}:'))).toBe(true);
  });
});

/** A day 7 days before today (UTC) in the same year, or 7 days after when today is in the first week. */
function otherDayThisYear(): string {
  const today = todayUtc();
  const before = shiftDay(today, -7);
  return before.slice(0, 4) === today.slice(0, 4) ? before : shiftDay(today, 7);
}
