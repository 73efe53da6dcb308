// pageViews(): per-route views, unique visitors and time on page by day/week/month/year, with a live stream.
import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import {
  assertNotInRequestHandler,
  durationOption,
  errorMessage,
  member,
  onFinish,
  optionError,
} from '../core/index.js';
import { createErrorReporter, registerScript, registerVariadicScript } from '../redis/index.js';
import { createBeaconEndpoints } from './beacon.js';
import { CLIENT_SCRIPT } from './client-script.js';
import { Collector, type CollectorStats } from './collector.js';
import { createBotCache, isPageViewResponse, UNMATCHED_ROUTE } from './include.js';
import { createKeys } from './keys.js';
import { LiveHub, type LiveOptions } from './live.js';
import { type PageViewsOptions, resolveOptions } from './options.js';
import { ChunkPreparer } from './prepare.js';
import {
  createReporter,
  type PageViewRow,
  type PageViewTotals,
  type ReportQuery,
  type TopQuery,
  type TotalsQuery,
} from './report.js';
import { BEACON_SCRIPT, FLUSH_SCRIPT, LIVE_SCRIPT, SALT_SCRIPT } from './scripts.js';
import { createTokenSigner } from './token.js';
import { createRemoteVisitor, remoteVisitor } from './visitor.js';
import { VisitorHashes } from './visitor-hashes.js';
import { type Visitor, VisitorRegistry } from './visitors.js';
import { ChunkWriter } from './writer.js';

export { CLIENT_SCRIPT } from './client-script.js';
export { isPageView, OTHER_ROUTE, UNMATCHED_ROUTE } from './include.js';
export type { LiveOptions } from './live.js';
export { DEFAULT_PAGE_VIEWS_OPTIONS, type PageViewsOptions } from './options.js';
export type { Granularity } from './periods.js';
export type {
  PageViewRow,
  PageViewTotals,
  PeriodInput,
  ReportQuery,
  TimeOnPageBucket,
  TopQuery,
  TotalsQuery,
} from './report.js';
export { TIME_ON_PAGE_BUCKET_EDGES_MS } from './scripts.js';

/** Counters of one middleware instance, for health checks. */
export interface PageViewsStats extends CollectorStats {
  /** Open live event streams on this instance. */
  readonly liveStreams: number;
}

/** A view counted by hand with `views.record()`. */
export interface RecordedView {
  /** The route to count it under, e.g. `/products/:id`. */
  route: string;
  /** Raw visitor identity (hashed with the period salt like the default `visitor`); none: no unique. */
  visitor?: string;
  /** When the view happened. @default now */
  at?: Date | number;
}

/** The middleware returned by {@link pageViews}, with its admin methods. */
export interface PageViewsMiddleware {
  (req: Request, res: Response, next: NextFunction): void;
  /** An Express handler streaming live summaries as server-sent events (mount it behind your admin auth). */
  live(options?: LiveOptions): (req: Request, res: Response) => void;
  /** Rows `{ period, route, views, uniques, timedViews, avgTimeOnPageMs, timeOnPageBuckets }`. */
  report(query: ReportQuery): Promise<PageViewRow[]>;
  /** The routes with the most views in one period, as report rows, most viewed first. */
  top(query: TopQuery): Promise<PageViewRow[]>;
  /** Views and distinct visitors of the whole site per period. */
  totals(query: TotalsQuery): Promise<PageViewTotals[]>;
  /** Counts a view that did not come through the middleware (a job, an import, a virtual SPA view). */
  record(view: RecordedView): void;
  /** `<script src="/_pv.js?r=…&s=…" defer></script>` for the page being rendered (same for every visitor). */
  scriptTag(req: Request): string;
  /** The script URL alone, for templates that build their own tag. */
  scriptUrl(req: Request): string;
  /** Writes everything counted so far; rejects (keeping it for the next try) when Redis fails. */
  flush(): Promise<void>;
  /** Stops the timer, ends live streams, closes the subscriber and writes everything counted. */
  close(): Promise<void>;
  /** Buffer, flush and stream counters, for health checks. */
  stats(): PageViewsStats;
  /** The browser script (the function the middleware serves at `<beaconPath>.js`, called with a token). */
  readonly clientScript: string;
}

/**
 * Counts page views per route in process, writes them to Redis once per `flushInterval` in one pipeline, and
 * keeps per-route views (exact), unique visitors (HyperLogLog, salted hashes only) and time on page (from a
 * beacon with one token per view) by day, ISO week, month and year, with a live server-sent-event stream.
 *
 * @example
 * const views = pageViews({ redis, secret: process.env.PV_SECRET, timeZone: 'Europe/Berlin' });
 * app.use(views);
 * app.get('/products/:id', (req, res) => res.send(`<html>…${views.scriptTag(req)}</html>`));
 * app.get('/admin/live', requireAdmin, views.live());
 * const rows = await views.report({ from: '2026-11-01', to: '2026-11-21', granularity: 'day' });
 * process.on('SIGTERM', () => server.close(() => views.close()));
 */
export function pageViews(options: PageViewsOptions): PageViewsMiddleware {
  // options first: `app.use(pageViews)` without the call is reported as such, not as a handler-time creation
  const config = resolveOptions(options);
  assertNotInRequestHandler('pageViews');
  const { redis, logger, scriptPath, beaconPath } = config;
  if (config.secretGenerated && process.env.NODE_ENV === 'production') {
    logger.warn(
      'pageViews: no `secret` given; beacon tokens are signed with a random key and only work on this instance until it restarts',
    );
  }
  const keys = createKeys(config.prefix);
  const report = createErrorReporter(logger);
  const instance = randomBytes(6).toString('base64url');
  const writer = new ChunkWriter(
    config,
    keys,
    { flush: registerVariadicScript(redis, FLUSH_SCRIPT), live: registerVariadicScript(redis, LIVE_SCRIPT) },
    report,
  );
  const hashes = new VisitorHashes(registerScript(redis, SALT_SCRIPT), config.timeoutMs);
  const preparer = new ChunkPreparer(config, keys, hashes, instance);
  const collector = new Collector(config, preparer, writer, report);
  const beaconStore = registerVariadicScript(redis, BEACON_SCRIPT);
  const signer = createTokenSigner(config.secrets);
  const endpoints = createBeaconEndpoints(config, keys, signer, beaconStore, report, (key) =>
    collector.foldRouteKey(key),
  );
  const reporter = createReporter(config, keys);
  const hub = new LiveHub(redis, keys.channel, report, () =>
    writer.liveSnapshot(JSON.stringify({ type: 'snapshot', at: Date.now(), instance })),
  );

  const bots = createBotCache();
  const include = config.defaultInclude
    ? (req: Request, res: Response) => isPageViewResponse(req, res, bots)
    : config.include;
  const visitors = new VisitorRegistry();
  const visitorOf = (raw: unknown): Visitor | undefined =>
    raw === undefined ? undefined : visitors.of(String(raw));
  const custom = config.visitor;
  const visitorOfRequest =
    custom === remoteVisitor ? createRemoteVisitor(visitors) : (req: Request) => visitorOf(custom(req));
  const routeOf = (req: Request, res: Response): string => {
    const name = config.route(req, res);
    return typeof name === 'string' && name.length > 0 ? name : UNMATCHED_ROUTE;
  };
  const defaultInclude = config.defaultInclude;
  let closed = false;
  let optionErrorLoggedAt = 0;

  // One listener shared by every response: `this` is the response, so no closure is made per request.
  function countOnFinish(this: Response): void {
    const req = member(this, 'req') as Request;
    try {
      if (!include(req, this)) return;
      collector.add(routeOf(req, this), visitorOfRequest(req));
    } catch (error) {
      // a bug in a user function must not flood the log: once per 10 s
      const now = Date.now();
      if (now - optionErrorLoggedAt < 10_000) return;
      optionErrorLoggedAt = now;
      logger.error('pageViews: the route, include or visitor option threw; view not counted', {
        error: errorMessage(error),
      });
    }
  }

  const middleware = function pageViewsMiddleware(req: Request, res: Response, next: NextFunction): void {
    const method = member(req, 'method');
    if (method === 'GET') {
      if (isPath(member(req, 'url'), scriptPath)) {
        endpoints.serveScript(req, res);
        return;
      }
    } else if (method === 'POST' && isPath(member(req, 'url'), beaconPath)) {
      endpoints.handleBeacon(req, res);
      return;
    } else if (defaultInclude) {
      next();
      return;
    }
    if (!closed) onFinish(res, countOnFinish);
    next();
  } as PageViewsMiddleware;

  const scriptUrls = new Map<string, string>();
  const scriptUrl = (req: Request): string => {
    // Beyond maxRoutes distinct routes today, new routes share the `(other)` script URL.
    const routeKey = collector.routeKey(routeOf(req, req.res as Response));
    let url = scriptUrls.get(routeKey);
    if (url === undefined) {
      url = `${scriptPath}?r=${encodeURIComponent(routeKey)}&s=${signer.routeSignature(routeKey)}`;
      if (scriptUrls.size >= config.maxRoutes) scriptUrls.clear();
      scriptUrls.set(routeKey, url);
    }
    return url;
  };

  middleware.live = (liveOptions: LiveOptions = {}) => {
    return hub.handler(
      durationOption(liveOptions.heartbeat ?? '15s', 'heartbeat', 'pageViews.live', { min: 10 }),
    );
  };
  middleware.report = (query) => reporter.report(query);
  middleware.top = (query) => reporter.top(query);
  middleware.totals = (query) => reporter.totals(query);
  middleware.record = (view) => {
    if (view === null || typeof view !== 'object' || typeof view.route !== 'string') {
      throw optionError('ERR_OPTION_VALUE', 'pageViews.record', 'route', 'a string', view?.route);
    }
    const visitor = visitorOf(view.visitor);
    if (view.at === undefined) {
      collector.add(view.route, visitor);
      return;
    }
    const at = view.at instanceof Date ? view.at.getTime() : view.at;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw optionError(
        'ERR_OPTION_VALUE',
        'pageViews.record',
        'at',
        'a Date or a time in milliseconds',
        view.at,
      );
    }
    collector.addAt(view.route, visitor, at);
  };
  middleware.scriptUrl = scriptUrl;
  middleware.scriptTag = (req) => `<script src="${scriptUrl(req).replace(/&/g, '&amp;')}" defer></script>`;
  middleware.flush = () => collector.flush();
  middleware.close = async () => {
    closed = true;
    await hub.close();
    await collector.close();
  };
  middleware.stats = () => ({ ...collector.stats(), liveStreams: hub.clients });
  Object.defineProperty(middleware, 'clientScript', { value: CLIENT_SCRIPT, enumerable: true });

  collector.start();
  return middleware;
}

/** `url` is `path`, with or without a query string. */
function isPath(url: string, path: string): boolean {
  return url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63);
}
