// Unique visitors by period: week, month and year numbers agree with their days, in the configured time zone.
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { useTestRedis } from '../helpers/redis.js';
import { HTML_PAGE, isoWeek, type Listening, listen, load } from './support.js';

const redis = useTestRedis();
const open: PageViewsMiddleware[] = [];
const servers: Listening[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(open.map((v) => v.close().catch(() => {})));
});

describe('rollups', () => {
  it('week, month and year views equal the sum of their days; uniques are per period', async () => {
    // Ten weeks around the turn of the latest year with 53 ISO weeks that lies in the past: its W53 spans two
    // calendar years. Periods past their retention are not written, so the retention covers the range.
    const year = latestPast53WeekYear();
    const first = Date.UTC(year, 10, 5);
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix('roll:'),
      flushInterval: '1h',
      retention: coverSince(first),
    });
    open.push(views);
    const days: string[] = [];
    for (let t = first; t <= Date.UTC(year + 1, 0, 12); t += 86_400_000) {
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
      const periods = new Set(days.map((d) => periodOf(d, granularity)));
      expect(rows).toHaveLength(periods.size * routes.length);
      for (const row of rows) {
        const sum = dayRows
          .filter((d) => d.route === row.route && periodMatches(d.period, row.period, granularity))
          .reduce((s, d) => s + d.views, 0);
        expect(row.views).toBe(sum);
        const distinct = expectedVisitors.get(`${granularity} ${row.period} ${row.route}`)?.size ?? 0;
        expect(Math.abs(row.uniques - distinct)).toBeLessThanOrEqual(Math.max(1, distinct * 0.02));
      }
    }
    // the boundary week: W53 runs from a Monday in late December to a Sunday in January
    const w53Name = `${year}-W53`;
    const w53Days = days.filter((d) => isoWeek(d) === w53Name);
    expect(w53Days).toHaveLength(7);
    expect(new Set(w53Days.map((d) => d.slice(0, 4)))).toEqual(new Set([`${year}`, `${year + 1}`]));
    const [w53] = await views.totals({ from: w53Name, to: w53Name, granularity: 'week' });
    const w53Sum = w53Days.reduce(
      (s, d) => s + routes.reduce((r, route) => r + (expectedViews.get(`${d} ${route}`) ?? 0), 0),
      0,
    );
    expect(w53?.views).toBe(w53Sum);
    // alice is one visitor a day on '/', and one (not 31) in December
    const decemberDays = await views.report({
      from: `${year}-12-01`,
      to: `${year}-12-31`,
      granularity: 'day',
      route: '/',
    });
    const [december] = await views.report({
      from: `${year}-12`,
      to: `${year}-12`,
      granularity: 'month',
      route: '/',
    });
    expect(decemberDays).toHaveLength(31);
    expect(decemberDays.reduce((s, d) => s + d.uniques, 0)).toBeGreaterThan((december?.uniques ?? 0) + 25);
  });

  it("counts a page view under the configured zone's day, week, month and year of the moment", async () => {
    const timeZone = 'Europe/Berlin';
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix('now:'),
      timeZone,
      flushInterval: '1h',
    });
    open.push(views);
    const app = express();
    app.use(views);
    app.get('/', (_req, res) => {
      res.send(HTML_PAGE);
    });
    const server = await listen(app);
    servers.push(server);
    const dayBefore = localDay(timeZone, Date.now());
    await load(server.url, 3, () => ({ path: '/' }), 1);
    await views.flush();
    // the same day unless the views were made across local midnight (then they are in one of the two)
    const day = localDay(timeZone, Date.now());
    for (const granularity of ['day', 'week', 'month', 'year'] as const) {
      const from = periodOf(dayBefore, granularity);
      const to = periodOf(day, granularity);
      const rows = await views.totals({ from, to, granularity });
      if (from === to) expect(rows).toEqual([{ period: from, views: 3, uniques: 1 }]);
      else expect(rows.reduce((sum, r) => sum + r.views, 0)).toBe(3);
    }
  });

  it('uses the time zone for period keys', async () => {
    // 03:00 UTC on the latest 1 January that has passed is still 31 December in New York
    const newYear =
      new Date().getUTCFullYear() - (Date.now() < Date.UTC(new Date().getUTCFullYear(), 0, 1, 3) ? 1 : 0);
    const at = Date.UTC(newYear, 0, 1, 3);
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix('tz:'),
      timeZone: 'America/New_York',
      flushInterval: '1h',
      retention: coverSince(at),
    });
    open.push(views);
    views.record({ route: '/', visitor: 'a', at });
    await views.flush();
    const eve = `${newYear - 1}-12-31`;
    const [day] = await views.totals({ from: eve, to: eve, granularity: 'day' });
    const [year] = await views.totals({ from: `${newYear - 1}`, to: `${newYear - 1}`, granularity: 'year' });
    const [nextYear] = await views.totals({ from: `${newYear}`, to: `${newYear}`, granularity: 'year' });
    expect([day?.views, year?.views, nextYear?.views]).toEqual([1, 1, 0]);
  });
});

type Granularity = 'day' | 'week' | 'month' | 'year';

function periodOf(day: string, granularity: Granularity): string {
  if (granularity === 'day') return day;
  if (granularity === 'month') return day.slice(0, 7);
  if (granularity === 'year') return day.slice(0, 4);
  return isoWeek(day);
}

function periodMatches(day: string, period: string, granularity: Granularity): boolean {
  return periodOf(day, granularity) === period;
}

/** The latest year with 53 ISO weeks whose turn of the year (to 12 January after it) is over. */
function latestPast53WeekYear(): number {
  let year = new Date().getUTCFullYear();
  while (isoWeek(`${year}-12-31`) !== `${year}-W53` || Date.UTC(year + 1, 0, 13) > Date.now()) year -= 1;
  return year;
}

/** A retention for every granularity that keeps periods since `since` (plus a month) from now on. */
function coverSince(since: number): Record<Granularity, number> {
  const ms = Date.now() - since + 31 * 86_400_000;
  return { day: ms, week: ms, month: ms, year: ms };
}

/** The calendar day of an instant in a time zone, `YYYY-MM-DD` (Sweden writes dates the ISO way). */
function localDay(timeZone: string, at: number): string {
  return new Date(at).toLocaleDateString('sv-SE', { timeZone });
}
