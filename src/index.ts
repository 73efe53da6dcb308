// The public entry of express-redis-kit: named exports only.

export {
  DEFAULT_PAGE_VIEWS_OPTIONS,
  type Granularity as PageViewGranularity,
  isPageView,
  type LiveOptions,
  OTHER_ROUTE,
  type PageViewRow,
  type PageViewsMiddleware,
  type PageViewsOptions,
  type PageViewsStats,
  type PageViewTotals,
  type PeriodInput,
  pageViews,
  type RecordedView,
  type ReportQuery,
  TIME_ON_PAGE_BUCKET_EDGES_MS,
  type TimeOnPageBucket,
  type TopQuery,
  type TotalsQuery,
  UNMATCHED_ROUTE,
} from './page-views/index.js';
export type { RedisClient } from './redis/client.js';
export type { Duration } from './redis/duration.js';
export { parseDuration } from './redis/duration.js';
export {
  ConfigError,
  consoleLogger,
  type Logger,
  type RedisErrorPolicy,
  RedisTimeoutError,
} from './redis/errors.js';
