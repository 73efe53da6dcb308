// Visitors between flushes: one object per visitor, counted once per route, hashed once per period salt and
// written once per route and day.
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { type RouteTally, tallyView } from '../../src/page-views/batch.js';
import { Visitor, VisitorRegistry, WrittenMarks } from '../../src/page-views/visitors.js';
import { sha256 } from '../../src/redis/index.js';
import { useTestRedis } from '../helpers/redis.js';
import { isoWeek } from './support.js';

describe('tallyView', () => {
  it('adds a visitor to a route once however many views in a row it makes there', () => {
    const routes = new Map<string, RouteTally>();
    const alice = new Visitor('alice');
    expect(tallyView(routes, '/a', alice)).toBe(2);
    expect(tallyView(routes, '/a', alice)).toBe(0);
    expect(tallyView(routes, '/a', alice)).toBe(0);
    expect(tallyView(routes, '/a', new Visitor('bob'))).toBe(1);
    expect(routes.get('/a')?.views).toBe(4);
    expect(routes.get('/a')?.visitors.map((v) => v.raw)).toEqual(['alice', 'bob']);
  });

  it('lists a visitor whose views alternate between routes under each of them; the flush takes each once', () => {
    const routes = new Map<string, RouteTally>();
    const alice = new Visitor('alice');
    for (const route of ['/a', '/b', '/a', '/b', '/a']) tallyView(routes, route, alice);
    const a = routes.get('/a') as RouteTally;
    const b = routes.get('/b') as RouteTally;
    expect([a.views, b.views]).toEqual([3, 2]);
    const marks = new WrittenMarks();
    expect(marks.forRoute(a.visitors, '/a', '2026-12-07')).toEqual([alice]);
    expect(marks.forRoute(b.visitors, '/b', '2026-12-07')).toEqual([alice]);
    expect(marks.forSite([a.visitors, b.visitors], '2026-12-07')).toEqual([alice]);
  });

  it('starts again in a new tally: the last tally is remembered by id, not by the object', () => {
    const alice = new Visitor('alice');
    const yesterday = new Map<string, RouteTally>();
    const today = new Map<string, RouteTally>();
    tallyView(yesterday, '/a', alice);
    expect(tallyView(today, '/a', alice)).toBe(2);
    expect(typeof alice.lastTally).toBe('number');
  });
});

describe('WrittenMarks', () => {
  const [alice, bob] = [new Visitor('alice'), new Visitor('bob')];

  it('takes a visitor once per route and day, whatever the flush', () => {
    const marks = new WrittenMarks();
    expect(marks.forRoute([alice, bob, alice], '/a', '2026-12-07')).toEqual([alice, bob]);
    // a later flush of the same route and day: both are in its HyperLogLogs already
    expect(marks.forRoute([bob, alice], '/a', '2026-12-07')).toEqual([]);
    // the next day, or another route, needs them again
    expect(marks.forRoute([alice], '/a', '2026-12-08')).toEqual([alice]);
    expect(marks.forRoute([alice], '/b', '2026-12-08')).toEqual([alice]);
    // one mark per visitor: back on the first route it is written again (a repeat PFADD changes nothing)
    expect(marks.forRoute([alice], '/a', '2026-12-08')).toEqual([alice]);
  });

  it('takes a visitor once per day for the site and once per minute for the live count', () => {
    const marks = new WrittenMarks();
    expect(marks.forSite([[alice], [bob, alice]], '2026-12-07')).toEqual([alice, bob]);
    expect(marks.forSite([[alice, bob]], '2026-12-07')).toEqual([]);
    expect(marks.forSite([[bob]], '2026-12-08')).toEqual([bob]);
    expect(marks.forLive([alice, alice, bob], 29_411_000)).toEqual([alice, bob]);
    expect(marks.forLive([alice], 29_411_000)).toEqual([]);
    expect(marks.forLive([alice], 29_411_001)).toEqual([alice]);
  });

  it('forgets everything it marked when written data may have been lost', () => {
    const marks = new WrittenMarks();
    marks.forRoute([alice], '/a', '2026-12-07');
    marks.forSite([[alice]], '2026-12-07');
    marks.forLive([alice], 29_411_000);
    marks.forget();
    expect(marks.forRoute([alice], '/a', '2026-12-07')).toEqual([alice]);
    expect(marks.forSite([[alice]], '2026-12-07')).toEqual([alice]);
    expect(marks.forLive([alice], 29_411_000)).toEqual([alice]);
  });
});

describe('Visitor hashes', () => {
  it('is SHA-256 of salt and identity, kept per granularity until the salt changes', () => {
    const alice = new Visitor('203.0.113.9 Mozilla/5.0');
    const expected = (salt: string) => sha256(salt + alice.raw).slice(0, 11);
    expect(alice.keptHash('day', 'salt-1')).toBeUndefined();
    expect(alice.hash('day', 'salt-1')).toBe(expected('salt-1'));
    expect(alice.keptHash('day', 'salt-1')).toBe(expected('salt-1'));
    // another granularity keeps its own
    expect(alice.keptHash('week', 'salt-1')).toBeUndefined();
    expect(alice.hash('week', 'salt-w')).toBe(expected('salt-w'));
    expect(alice.keptHash('day', 'salt-1')).toBe(expected('salt-1'));
    // a new day's salt replaces the day's hash: the old one is not served for the new salt
    expect(alice.keptHash('day', 'salt-2')).toBeUndefined();
    expect(alice.hash('day', 'salt-2')).toBe(expected('salt-2'));
    expect(alice.keptHash('day', 'salt-1')).toBeUndefined();
    expect(expected('salt-1')).not.toBe(expected('salt-2'));
  });
});

describe('VisitorRegistry', () => {
  it('gives one object per identity, and starts over at its bound', () => {
    const registry = new VisitorRegistry(3);
    const alice = registry.of('alice');
    expect(registry.of('alice')).toBe(alice);
    registry.of('bob');
    registry.of('carol');
    expect(registry.of('alice')).toBe(alice);
    registry.of('dave'); // the fourth identity: the registry starts over
    const again = registry.of('alice');
    expect(again).not.toBe(alice);
    expect(again.raw).toBe('alice');
  });
});

describe('uniques through the middleware', () => {
  const redis = useTestRedis();
  const open: PageViewsMiddleware[] = [];
  afterAll(async () => {
    await Promise.all(open.map((v) => v.close().catch(() => {})));
  });

  it('counts a visitor moving between routes within one flush once per route and once for the site', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('alternate:'), flushInterval: '1h' });
    open.push(views);
    for (const route of ['/a', '/b', '/a', '/b', '/c', '/a']) views.record({ route, visitor: 'alice' });
    views.record({ route: '/a', visitor: 'bob' });
    views.record({ route: '/c', visitor: 'bob' });
    await views.flush();
    const today = new Date().toISOString().slice(0, 10);
    for (const granularity of ['day', 'week', 'month', 'year'] as const) {
      const period = granularity === 'day' ? today : undefined;
      const rows = await views.report({ from: period ?? today, to: period ?? today, granularity });
      const byRoute = Object.fromEntries(rows.map((row) => [row.route, [row.views, row.uniques]]));
      expect(byRoute).toEqual({ '/a': [4, 2], '/b': [2, 1], '/c': [2, 2] });
      const [totals] = await views.totals({ from: today, to: today, granularity });
      expect(totals?.views).toBe(8);
      expect(totals?.uniques).toBe(2);
    }
  });

  it('counts a visitor of a long-past day once, however many flushes write its views', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('import:'), flushInterval: '1h' });
    open.push(views);
    // ten days ago: its day and its week ended more than the salts' two days of grace ago
    const at = Date.now() - 10 * 86_400_000;
    const day = new Date(at).toISOString().slice(0, 10);
    // alice moves between two pages, so each flush writes her again
    for (const route of ['/old', '/other', '/old', '/other', '/old']) {
      views.record({ route, visitor: 'alice', at });
      await views.flush();
    }
    for (const granularity of ['day', 'week'] as const) {
      const rows = await views.report({ from: day, to: day, granularity });
      expect(Object.fromEntries(rows.map((row) => [row.route, [row.views, row.uniques]]))).toEqual({
        '/old': [3, 1],
        '/other': [2, 1],
      });
    }
  });

  it('counts returning visitors over several flushes and days once per route and period', async () => {
    const views = pageViews({ redis: redis.client, prefix: redis.prefix('returning:'), flushInterval: '1h' });
    open.push(views);
    // yesterday and today (salts are kept two days past their period, so late writes reuse them)
    const today = Date.now();
    const yesterday = today - 86_400_000;
    const flushes: [string, string, number][][] = [
      [
        ['/a', 'alice', yesterday],
        ['/a', 'bob', yesterday],
      ],
      [
        ['/a', 'alice', yesterday],
        ['/b', 'alice', yesterday],
      ],
      [
        ['/a', 'alice', yesterday],
        ['/a', 'alice', today],
      ],
      [
        ['/a', 'alice', today],
        ['/b', 'carol', today],
      ],
    ];
    const expected = new Map<string, { views: number; visitors: Set<string> }>();
    const count = (key: string, visitor: string) => {
      const entry = expected.get(key) ?? { views: 0, visitors: new Set<string>() };
      entry.views += 1;
      entry.visitors.add(visitor);
      expected.set(key, entry);
    };
    for (const batch of flushes) {
      for (const [route, visitor, at] of batch) {
        views.record({ route, visitor, at });
        const day = new Date(at).toISOString().slice(0, 10);
        const periods = { day, week: isoWeek(day), month: day.slice(0, 7) };
        for (const [granularity, period] of Object.entries(periods)) {
          count(`${granularity} ${period} ${route}`, visitor);
          count(`${granularity} ${period} (site)`, visitor);
        }
      }
      await views.flush();
    }
    const from = new Date(yesterday).toISOString().slice(0, 10);
    const to = new Date(today).toISOString().slice(0, 10);
    for (const granularity of ['day', 'week', 'month'] as const) {
      const rows = await views.report({ from, to, granularity });
      const totals = await views.totals({ from, to, granularity });
      const measured = [
        ...rows.map((row) => [`${granularity} ${row.period} ${row.route}`, row.views, row.uniques]),
        ...totals.map((row) => [`${granularity} ${row.period} (site)`, row.views, row.uniques]),
      ];
      const wanted = [...expected]
        .filter(([key]) => key.startsWith(`${granularity} `))
        .map(([key, { views, visitors }]) => [key, views, visitors.size]);
      expect(measured.sort()).toEqual(wanted.sort());
    }
  });
});
