// Gathers what the admin dashboard shows from the middlewares' admin methods and the shop's own keys.
import type { PageViewsMiddleware, RateLimitMiddleware } from 'express-redis-kit';
import type { Orders } from './orders.js';

export interface CacheCounters {
  hits: number;
  misses: number;
  stale?: number;
  bypass?: number;
  stored?: number;
}

export interface DashboardSources {
  views: PageViewsMiddleware;
  limiters: readonly RateLimitMiddleware[];
  orders: Orders;
  /** Counters of the response cache (this process), if the shop uses one. */
  cache?: () => CacheCounters;
}

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export async function dashboardData(sources: DashboardSources, days = 14) {
  const now = Date.now();
  const today = dayOf(now);
  const from = dayOf(now - (days - 1) * DAY_MS);
  const [perRoute, totals, top, limits, queue, orders] = await Promise.all([
    sources.views.report({ from, to: today, granularity: 'day' }),
    sources.views.totals({ from, to: today, granularity: 'day' }),
    sources.views.top({ granularity: 'day', period: today, limit: 10 }),
    Promise.all(sources.limiters.map((limiter) => limiter.stats({ top: 5 }))),
    sources.orders.queueDepths(),
    sources.orders.perDay(),
  ]);
  const dayList = Array.from({ length: days }, (_, i) => dayOf(now - (days - 1 - i) * DAY_MS));
  const routes = [...new Set(perRoute.map((row) => row.route))];
  const todayRows = perRoute.filter((row) => row.period === today);
  const timed = todayRows.reduce((sum, row) => sum + row.timedViews, 0);
  const timeSum = todayRows.reduce((sum, row) => sum + (row.avgTimeOnPageMs ?? 0) * row.timedViews, 0);
  const cache = sources.cache?.();
  const lookups = cache ? cache.hits + cache.misses + (cache.stale ?? 0) : 0;
  return {
    today,
    days: dayList,
    viewsPerDay: routes.map((route) => ({
      route,
      views: dayList.map(
        (day) => perRoute.find((row) => row.period === day && row.route === route)?.views ?? 0,
      ),
    })),
    uniquesPerDay: dayList.map((day) => totals.find((t) => t.period === day)?.uniques ?? 0),
    todayViews: totals.find((t) => t.period === today)?.views ?? 0,
    todayUniques: totals.find((t) => t.period === today)?.uniques ?? 0,
    avgTimeOnPageMs: timed > 0 ? Math.round(timeSum / timed) : null,
    topPages: top.map(({ route, views, uniques, avgTimeOnPageMs }) => ({
      route,
      views,
      uniques,
      avgTimeOnPageMs,
    })),
    cache: cache
      ? { ...cache, hitRatio: lookups > 0 ? (cache.hits + (cache.stale ?? 0)) / lookups : null }
      : null,
    rateLimits: limits.map((stats) => ({
      name: stats.name,
      allowed: stats.allowed,
      blocked: stats.blocked,
      blockedPerMinute: stats.minutes.map((m) => m.blocked),
      topBlocked: stats.topBlocked,
    })),
    queue,
    orders: orders.find((o) => o.day === today) ?? { day: today, orders: 0, revenueCents: 0 },
  };
}

export type DashboardData = Awaited<ReturnType<typeof dashboardData>>;
