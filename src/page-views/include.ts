// What counts as a page view, which route it belongs to, and who the (anonymous) visitor is.
import type { Request, Response } from 'express';
import { isbot } from 'isbot';
import { member, requestHeaders, responseHeader } from '../core/index.js';

/** The route name of views whose request matched no Express route (a 404, a static file, an SPA fallback). */
export const UNMATCHED_ROUTE = '(unmatched)';
/** The route name of views beyond `maxRoutes` distinct routes in one day. */
export const OTHER_ROUTE = '(other)';

/**
 * The default `route`: the Express route pattern (`req.baseUrl + req.route.path`, e.g. `/products/:id`), so
 * every product page is one route. Without a matched route, `undefined` (counted as `(unmatched)`).
 */
export function defaultRoute(req: Request, _res?: Response): string | undefined {
  const route = member(req as { route?: { path?: unknown } }, 'route');
  if (route === undefined || route === null) return undefined;
  const path = route.path;
  return member(req, 'baseUrl') + (typeof path === 'string' ? path : String(path));
}

/**
 * The default `include`: a GET answered 2xx with HTML, or a 304 to a browser navigation (a reload
 * revalidating its ETag is a view too); not a bot according to `isbot`; not a prefetch or prerender
 * (`Sec-Purpose`, `Purpose`, `X-Purpose`, `X-Moz`). Export it to build on it:
 *
 * @example
 * pageViews({ redis, include: (req, res) => isPageView(req, res) && !req.path.startsWith('/admin') })
 */
export function isPageView(req: Request, res: Response): boolean {
  return isPageViewWith(req, res, isbot);
}

/** {@link isPageView} with the bot test supplied, so the middleware can put a cache in front of `isbot`. */
export function isPageViewWith(req: Request, res: Response, isBot: (agent: string) => boolean): boolean {
  return req.method === 'GET' && isPageViewResponse(req, res, isBot);
}

/** {@link isPageViewWith} for a request known to be a GET (the middleware follows only those). */
export function isPageViewResponse(req: Request, res: Response, isBot: (agent: string) => boolean): boolean {
  const status = member(res, 'statusCode');
  const headers = requestHeaders(req);
  if (status === 304) {
    if (headers['sec-fetch-dest'] !== 'document' && !headers.accept?.includes('text/html')) {
      return false;
    }
  } else {
    if (status < 200 || status > 299) return false;
    const type = responseHeader(res, 'content-type');
    if (typeof type !== 'string' || !isHtml(type)) return false;
  }
  if (isPrefetch(headers)) return false;
  const agent = headers['user-agent'];
  return agent === undefined || agent === '' || !isBot(agent);
}

/** A cache in front of `isbot` (about 1.5 µs a call): user agents repeat, so most lookups are one Map get. */
export function createBotCache(limit = 2_000): (agent: string) => boolean {
  const seen = new Map<string, boolean>();
  return (agent) => {
    let bot = seen.get(agent);
    if (bot === undefined) {
      bot = isbot(agent);
      if (seen.size >= limit) seen.clear();
      seen.set(agent, bot);
    }
    return bot;
  };
}

const HTML_TYPE = /^text\/html/i;
const PREFETCH = /prefetch|prerender|preview/i;

function isHtml(type: string): boolean {
  return HTML_TYPE.test(type);
}

function isPrefetch(headers: Request['headers']): boolean {
  const purpose = headers['sec-purpose'] ?? headers.purpose ?? headers['x-purpose'] ?? headers['x-moz'];
  if (purpose === undefined) return false;
  const value = Array.isArray(purpose) ? purpose.join(',') : purpose;
  return PREFETCH.test(value);
}
