// Behaviour 1: uniques within 2% for 10,000 visitors; week/month/year numbers agree with their days.
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { useTestRedis } from '../helpers/redis.js';
import { HTML_PAGE, type Listening, listen, load, todayUtc } from './helpers.js';

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

describe('rollups', () => {
  it('week, month and year views equal the sum of their days; uniques are per period', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('roll:'), flushInterval: '1h' });
    open.push(views);
    const days: string[] = [];
    for (let t = Date.UTC(2026, 10, 5); t <= Date.UTC(2027, 0, 12); t += 86_400_000) {
      days.push(new Date(t).toISOString().slice(0, 10));
    }
    const routes = ['/', '/products/:id', '/cart'];
    // a deterministic pseudo-random number of views per day and route, from a small pool of visitors
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed;
    };
    const expectedViews = new Map<string, number>();
    const expectedVisitors = new Map<string, Set<string>>();
    const remember = (granularity: string, period: string, route: string, visitor: string) => {
      const key = `${granularity} ${period} ${route}`;
      const set = expectedVisitors.get(key) ?? new Set<string>();
      set.add(visitor);
      expectedVisitors.set(key, set);
    };
    for (const day of days) {
      const at = Date.parse(`${day}T12:00:00Z`);
      for (const route of routes) {
        const n = next() % 6;
        // alice comes back every day; the others are drawn from a pool of 40
        const visitors = ['alice', ...Array.from({ length: n }, () => `visitor-${next() % 40}`)];
        for (const visitor of visitors) {
          views.record({ route, visitor, at });
          const periods = { day, week: isoWeek(day), month: day.slice(0, 7), year: day.slice(0, 4) };
          for (const [granularity, period] of Object.entries(periods))
            remember(granularity, period, route, visitor);
        }
        expectedViews.set(`${day} ${route}`, visitors.length);
      }
    }
    await views.flush();

    const from = days[0] as string;
    const to = days.at(-1) as string;
    const dayRows = await views.report({ from, to, granularity: 'day' });
    expect(dayRows).toHaveLength(days.length * routes.length);
    for (const row of dayRows) expect(row.views).toBe(expectedViews.get(`${row.period} ${row.route}`));

    for (const granularity of ['day', 'week', 'month', 'year'] as const) {
      const rows = await views.report({ from, to, granularity });
      for (const row of rows) {
        const sum = dayRows
          .filter((d) => d.route === row.route && periodMatches(d.period, row.period, granularity))
          .reduce((s, d) => s + d.views, 0);
        expect(row.views).toBe(sum);
        const distinct = expectedVisitors.get(`${granularity} ${row.period} ${row.route}`)?.size ?? 0;
        expect(Math.abs(row.uniques - distinct)).toBeLessThanOrEqual(Math.max(1, distinct * 0.02));
      }
    }
    // the boundary week: Monday 28 December 2026 to Sunday 3 January 2027 is 2026-W53
    const [w53] = await views.totals({ from: '2026-W53', to: '2026-W53', granularity: 'week' });
    const w53Days = [
      '2026-12-28',
      '2026-12-29',
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
      '2027-01-02',
      '2027-01-03',
    ];
    const w53Sum = w53Days.reduce(
      (s, d) => s + routes.reduce((r, route) => r + (expectedViews.get(`${d} ${route}`) ?? 0), 0),
      0,
    );
    expect(w53?.views).toBe(w53Sum);
    // alice is one visitor a day on '/', and one (not 31) in December
    const decemberDays = await views.report({
      from: '2026-12-01',
      to: '2026-12-31',
      granularity: 'day',
      route: '/',
    });
    const [december] = await views.report({
      from: '2026-12',
      to: '2026-12',
      granularity: 'month',
      route: '/',
    });
    expect(decemberDays.reduce((s, d) => s + d.uniques, 0)).toBeGreaterThan((december?.uniques ?? 0) + 25);
  });

  it('uses the time zone for period keys', async () => {
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix('tz:'),
      timeZone: 'America/New_York',
      flushInterval: '1h',
    });
    open.push(views);
    // 03:00 UTC on 1 January 2027 is still 31 December 2026 in New York
    views.record({ route: '/', visitor: 'a', at: Date.parse('2027-01-01T03:00:00Z') });
    await views.flush();
    const [day] = await views.totals({ from: '2026-12-31', to: '2026-12-31', granularity: 'day' });
    const [year] = await views.totals({ from: '2026', to: '2026', granularity: 'year' });
    const [nextYear] = await views.totals({ from: '2027', to: '2027', granularity: 'year' });
    expect([day?.views, year?.views, nextYear?.views]).toEqual([1, 1, 0]);
  });
});

function periodMatches(day: string, period: string, granularity: 'day' | 'week' | 'month' | 'year'): boolean {
  if (granularity === 'day') return day === period;
  if (granularity === 'month') return day.startsWith(period);
  if (granularity === 'year') return day.startsWith(period);
  return isoWeek(day) === period;
}

function isoWeek(day: string): string {
  // an independent ISO week computation (Thursday rule) for the test
  const date = new Date(`${day}T00:00:00Z`);
  const weekday = (date.getUTCDay() + 6) % 7;
  date.setUTCDate(date.getUTCDate() - weekday + 3);
  const weekYear = date.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(weekYear, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  const week = 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000));
  return `${weekYear}-W${String(week).padStart(2, '0')}`;
}
