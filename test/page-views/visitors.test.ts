// Visitors between flushes: one object per visitor, counted once per route and hashed once per period salt.
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { type RouteTally, tallyView } from '../../src/page-views/batch.js';
import { distinctVisitors, Visitor, VisitorRegistry } from '../../src/page-views/visitors.js';
import { sha256 } from '../../src/redis/index.js';
import { useTestRedis } from '../helpers/redis.js';

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
    expect(a.views).toBe(3);
    expect(b.views).toBe(2);
    expect(distinctVisitors([a.visitors]).map((v) => v.raw)).toEqual(['alice']);
    expect(distinctVisitors([b.visitors]).map((v) => v.raw)).toEqual(['alice']);
    expect(distinctVisitors([a.visitors, b.visitors]).map((v) => v.raw)).toEqual(['alice']);
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

describe('distinctVisitors', () => {
  it('takes each visitor once, in order of first appearance, pass after pass', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((raw) => new Visitor(raw)) as [Visitor, Visitor, Visitor];
    expect(
      distinctVisitors([
        [a, b, a],
        [c, b],
      ]),
    ).toEqual([a, b, c]);
    // a second pass over the same visitors is not confused by the marks of the first
    expect(distinctVisitors([[c, a, c]])).toEqual([c, a]);
    expect(distinctVisitors([])).toEqual([]);
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
});
