// Unique visitors are estimated within 2% for 10,000 visitors on every granularity; a repeat view counts once.
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { useTestRedis } from '../helpers/redis.js';
import { HTML_PAGE, type Listening, listen, load, todayUtc } from './support.js';

const redis = useTestRedis();
const open: PageViewsMiddleware[] = [];
const servers: Listening[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(open.map((v) => v.close().catch(() => {})));
});

describe('unique visitors', () => {
  it('counts 10,000 visitors within 2% on every granularity, and repeat views once', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('hll:') });
    open.push(views);
    const app = express();
    app.set('trust proxy', true);
    app.use(views);
    app.get('/p/:n', (_req, res) => {
      res.send(HTML_PAGE);
    });
    const server = await listen(app);
    servers.push(server);

    const visitors = 10_000;
    const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    // every visitor views one of three routes; the first 1,000 come back to the same page
    const statuses = await load(server.url, visitors + 1_000, (i) => {
      const v = i % visitors;
      return { path: `/p/${v % 3}`, headers: { 'x-forwarded-for': ip(v) } };
    });
    expect(statuses.every((s) => s === 200)).toBe(true);
    await views.flush();

    const today = todayUtc();
    for (const granularity of ['day', 'week', 'month', 'year'] as const) {
      const [total] = await views.totals({ from: today, to: today, granularity });
      expect(total?.views).toBe(11_000);
      expect(Math.abs((total?.uniques ?? 0) - visitors) / visitors).toBeLessThan(0.02);
      const rows = await views.report({ from: today, to: today, granularity });
      expect(rows.map((r) => r.route).sort()).toEqual(['/p/:n']);
      const [row] = rows;
      expect(row?.views).toBe(11_000);
      expect(Math.abs((row?.uniques ?? 0) - visitors) / visitors).toBeLessThan(0.02);
    }
  }, 60_000);
});
