// Reads page-view numbers back: rows per period and route, top pages, site totals.
import { integerOption, optionError, showValue } from '../core/index.js';
import { keyPart, type RedisClient, withDeadline } from '../redis/index.js';
import type { PageViewKeys } from './keys.js';
import type { ResolvedPageViewsConfig } from './options.js';
import { type Granularity, isDay, isPeriod, periodOfDay, periodsBetween } from './periods.js';
import { TIME_ON_PAGE_BUCKET_EDGES_MS } from './scripts.js';

/** Most periods one report may cover (ten years of days). */
const MAX_PERIODS = 3_660;

/** A day (`YYYY-MM-DD`), a period of the granularity (`2026-W47`, `2026-11`, `2026`), or an instant. */
export type PeriodInput = string | Date;

export interface ReportQuery {
  /** First period (inclusive). */
  from: PeriodInput;
  /** Last period (inclusive). */
  to: PeriodInput;
  granularity: Granularity;
  /** Only this route (as named by `route`, e.g. `/products/:id`); then every period gets a row. */
  route?: string;
}

export interface TopQuery {
  granularity: Granularity;
  /** The period, or a day / instant inside it. @default the current period */
  period?: PeriodInput;
  /** @default 10 */
  limit?: number;
}

export interface TotalsQuery {
  from: PeriodInput;
  to: PeriodInput;
  granularity: Granularity;
}

/** One bucket of the time-on-page histogram: views whose visible time was in [fromMs, toMs). */
export interface TimeOnPageBucket {
  readonly fromMs: number;
  /** `null` for the last, open-ended bucket. */
  readonly toMs: number | null;
  readonly count: number;
}

/** Numbers of one route in one period. */
export interface PageViewRow {
  readonly period: string;
  readonly route: string;
  /** Views counted by the middleware (exact). */
  readonly views: number;
  /** Distinct visitors (HyperLogLog estimate, standard error 0.81%). */
  readonly uniques: number;
  /** Views whose page reported its visible time with a beacon. */
  readonly timedViews: number;
  /** Mean visible time of the timed views, or `null` when there are none. */
  readonly avgTimeOnPageMs: number | null;
  readonly timeOnPageBuckets: readonly TimeOnPageBucket[];
}

/** Numbers of the whole site in one period. */
export interface PageViewTotals {
  readonly period: string;
  readonly views: number;
  /** Distinct visitors over all routes (HyperLogLog estimate). */
  readonly uniques: number;
}

export interface Reporter {
  report(query: ReportQuery): Promise<PageViewRow[]>;
  top(query: TopQuery): Promise<PageViewRow[]>;
  totals(query: TotalsQuery): Promise<PageViewTotals[]>;
}

type Replies = [Error | null, unknown][];

export function createReporter(config: ResolvedPageViewsConfig, keys: PageViewKeys): Reporter {
  const redis: RedisClient = config.redis;

  const run = async (build: (p: ReturnType<RedisClient['pipeline']>) => void): Promise<unknown[]> => {
    const pipeline = redis.pipeline();
    build(pipeline);
    const replies = ((await withDeadline(pipeline.exec(), config.timeoutMs)) ?? []) as Replies;
    return replies.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
  };

  const granularityOf = (value: unknown): Granularity => {
    if (!config.granularities.includes(value as Granularity)) {
      throw optionError(
        'ERR_PV_GRANULARITY',
        'pageViews',
        'granularity',
        `one of ${config.granularities.map(showValue).join(', ')}`,
        value,
      );
    }
    return value as Granularity;
  };

  const periodArg = (value: unknown, g: Granularity, name: string): string => {
    if (value instanceof Date && Number.isFinite(value.getTime())) {
      return periodOfDay(config.clock.dayOf(value.getTime()), g);
    }
    if (typeof value === 'string' && (isDay(value) || isPeriod(value, g))) {
      return isDay(value) ? periodOfDay(value, g) : value;
    }
    throw optionError(
      'ERR_OPTION_VALUE',
      'pageViews',
      name,
      `a Date, a day 'YYYY-MM-DD' or a ${g} period`,
      value,
    );
  };

  /** Every period from `query.from` to `query.to`, inclusive (at most MAX_PERIODS). */
  const periodRange = (query: TotalsQuery, g: Granularity): string[] =>
    periodsBetween(periodArg(query.from, g, 'from'), periodArg(query.to, g, 'to'), g, MAX_PERIODS);

  /** Rows of one period's routes, reading uniques for exactly those routes. */
  const rows = async (
    g: Granularity,
    entries: { period: string; routeKey: string; views: number; time: Record<string, string> }[],
  ): Promise<PageViewRow[]> => {
    if (entries.length === 0) return [];
    const hashed = [...new Set(entries.map((e) => e.routeKey).filter((k) => k.startsWith('#')))];
    const replies = await run((p) => {
      for (const e of entries) p.pfcount(keys.uniques(g, e.period, e.routeKey));
      if (hashed.length > 0) p.hmget(keys.routeNames, ...hashed);
    });
    const names = new Map<string, string>();
    const nameReply = (hashed.length > 0 ? replies[entries.length] : []) as (string | null)[];
    hashed.forEach((key, i) => {
      names.set(key, nameReply[i] ?? key);
    });
    return entries.map((e, i) =>
      toRow(e.period, names.get(e.routeKey) ?? e.routeKey, e.routeKey, e.views, Number(replies[i]), e.time),
    );
  };

  return {
    async report(query) {
      const g = granularityOf(query?.granularity);
      const periods = periodRange(query, g);
      if (query.route !== undefined) {
        if (typeof query.route !== 'string') {
          throw optionError('ERR_OPTION_VALUE', 'pageViews', 'route', 'a string', query.route);
        }
        const routeKey = keyPart(query.route);
        const fields = [
          'n',
          'ms',
          ...TIME_ON_PAGE_BUCKET_EDGES_MS.map((_, i) => `b${i}`),
          `b${TIME_ON_PAGE_BUCKET_EDGES_MS.length}`,
        ].map((f) => `${routeKey} ${f}`);
        const replies = await run((p) => {
          for (const period of periods) {
            p.hget(keys.views(g, period), routeKey);
            p.pfcount(keys.uniques(g, period, routeKey));
            p.hmget(keys.time(g, period), ...fields);
          }
        });
        return periods.map((period, i) => {
          const values = replies[i * 3 + 2] as (string | null)[];
          const time: Record<string, string> = {};
          fields.forEach((f, j) => {
            const v = values[j];
            if (v !== null && v !== undefined) time[f] = v;
          });
          return toRow(
            period,
            query.route as string,
            routeKey,
            Number(replies[i * 3] ?? 0),
            Number(replies[i * 3 + 1]),
            time,
          );
        });
      }
      const replies = await run((p) => {
        for (const period of periods) {
          p.hgetall(keys.views(g, period));
          p.hgetall(keys.time(g, period));
        }
      });
      const entries: { period: string; routeKey: string; views: number; time: Record<string, string> }[] = [];
      periods.forEach((period, i) => {
        const views = replies[i * 2] as Record<string, string>;
        const time = replies[i * 2 + 1] as Record<string, string>;
        const routeKeys = new Set(Object.keys(views));
        for (const field of Object.keys(time)) routeKeys.add(field.slice(0, field.lastIndexOf(' ')));
        const sorted = [...routeKeys].sort(
          (a, b) => Number(views[b] ?? 0) - Number(views[a] ?? 0) || (a < b ? -1 : 1),
        );
        for (const routeKey of sorted)
          entries.push({ period, routeKey, views: Number(views[routeKey] ?? 0), time });
      });
      return rows(g, entries);
    },

    async top(query) {
      const g = granularityOf(query?.granularity);
      const period = periodArg(query.period ?? new Date(), g, 'period');
      const limit = integerOption(query.limit ?? 10, 'limit', 'pageViews', 1, 10_000);
      const [views, time] = (await run((p) => {
        p.hgetall(keys.views(g, period));
        p.hgetall(keys.time(g, period));
      })) as [Record<string, string>, Record<string, string>];
      const top = Object.entries(views)
        .map(([routeKey, v]) => ({ routeKey, views: Number(v) }))
        .sort((a, b) => b.views - a.views || (a.routeKey < b.routeKey ? -1 : 1))
        .slice(0, limit);
      return rows(
        g,
        top.map((t) => ({ period, routeKey: t.routeKey, views: t.views, time })),
      );
    },

    async totals(query) {
      const g = granularityOf(query?.granularity);
      const periods = periodRange(query, g);
      const replies = await run((p) => {
        for (const period of periods) {
          p.hvals(keys.views(g, period));
          p.pfcount(keys.uniques(g, period));
        }
      });
      return periods.map((period, i) => ({
        period,
        views: (replies[i * 2] as string[]).reduce((sum, v) => sum + Number(v), 0),
        uniques: Number(replies[i * 2 + 1]),
      }));
    },
  };
}

function toRow(
  period: string,
  route: string,
  routeKey: string,
  views: number,
  uniques: number,
  time: Record<string, string>,
): PageViewRow {
  const field = (name: string): number => Number(time[`${routeKey} ${name}`] ?? 0);
  const timed = field('n');
  const edges = TIME_ON_PAGE_BUCKET_EDGES_MS;
  const buckets: TimeOnPageBucket[] = [];
  for (let i = 0; i <= edges.length; i++) {
    buckets.push({
      fromMs: i === 0 ? 0 : (edges[i - 1] as number),
      toMs: i < edges.length ? (edges[i] as number) : null,
      count: field(`b${i}`),
    });
  }
  return {
    period,
    route,
    views,
    uniques,
    timedViews: timed,
    avgTimeOnPageMs: timed > 0 ? Math.round(field('ms') / timed) : null,
    timeOnPageBuckets: buckets,
  };
}
