// What the middlewares keep per request, in one place beside the request rather than on it.
import type { CookieReading } from './cookie-header.js';
import type { ResponseHooks } from './response-hooks.js';

/**
 * Why not properties of `req` and `res`: Express moves every request and response onto its app's prototype
 * (`Object.setPrototypeOf`), and V8 then copies an object's hidden class for each property added to it later.
 * On Node 20 that measured about 2 µs per property per request, more for each one after the first: four of
 * them were most of what a session cost above bare Express. One WeakMap entry per request costs a fraction of
 * one such property (each entry is work for the garbage collector, so there is one for all the middlewares).
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

/** Shared by every copy of this library in the process, so each reads the request properties the others set. */
const REGISTRY = Symbol.for('express-redis-kit.request-contexts');
const global = globalThis as { [REGISTRY]?: WeakMap<object, RequestContext> };
global[REGISTRY] ??= new WeakMap();
const contexts = global[REGISTRY];

/** The context of a request, made on first use. */
export function contextOf(req: object): RequestContext {
  let context = contexts.get(req);
  if (context === undefined) {
    context = new RequestContext();
    contexts.set(req, context);
  }
  return context;
}

/** The context of a request, if a middleware made one. */
export function existingContext(req: object): RequestContext | undefined {
  return contexts.get(req);
}
