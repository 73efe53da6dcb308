// What the middlewares keep per request, in one place beside the request rather than on it.
import type { CookieReading } from './cookie-header.js';
import type { ResponseHooks } from './response-hooks.js';

/**
 * Why one object: Express moves every request and response onto its app's prototype
 * (`Object.setPrototypeOf`), and V8 then copies an object's hidden class for each property added to it later.
 * On Node 20 that measured about 2 µs per property per request, more for each one after the first: the session
 * alone added four. Keeping the state in WeakMaps instead cost more than it saved: their entries made every
 * garbage collection slower (the share of time in GC pauses went from 17 to 22 % under load). So each request
 * gets exactly one property, under a Symbol, holding this context for all the middlewares; the response has none.
 */
export class RequestContext {
  /** The values behind `req.session`, `req.rateLimit` and `req.responseCache` (see request-values.ts). */
  session: unknown = undefined;
  rateLimit: unknown = undefined;
  responseCache: unknown = undefined;
  /** The Cookie header as read (see cookie-header.ts). */
  cookies: CookieReading | undefined = undefined;
  /** The hooks following the response, the last added first (see response-hooks.ts). */
  hooks: ResponseHooks | undefined = undefined;
}

/** The names of the request properties a context holds. */
export type RequestProperty = 'session' | 'rateLimit' | 'responseCache';

/** The request's property; `Symbol.for`, so every copy of this library in the process shares one context. */
export const CONTEXT: unique symbol = Symbol.for('express-redis-kit.request-context');

interface WithContext {
  [CONTEXT]?: RequestContext;
}

/** The context of a request, made on first use. */
export function contextOf(req: object): RequestContext {
  const slot = req as WithContext;
  let context = slot[CONTEXT];
  if (context === undefined) {
    context = new RequestContext();
    slot[CONTEXT] = context;
  }
  return context;
}

/** The context of a request, if a middleware made one. */
export function existingContext(req: object): RequestContext | undefined {
  return (req as WithContext)[CONTEXT];
}
