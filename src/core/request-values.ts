// The properties the suite offers on a request (`req.session`, `req.rateLimit`, `req.responseCache`), kept in
// the request's context (request-context.ts) instead of on the request.
import { IncomingMessage } from 'node:http';
import { contextOf, existingContext, type RequestProperty } from './request-context.js';

/** One request property, read and set by the middleware that offers it. */
export interface RequestValue<T> {
  /** The value of `req`'s property (a value assigned by other code, as an own property, wins). */
  get(req: object): T | undefined;
  /** Sets the property's value for this request. */
  set(req: object, value: T): void;
  /** Removes the property from this request (`delete req.x`). */
  unset(req: object): void;
}

/**
 * The request property `name`: a getter on Node's request prototype, installed once, that reads the request's
 * context, so `req[name]` reads it in every app, sub-app and router. Assigning `req[name]` (as another package
 * may) stores an own property on that request, which then wins, as it would have without this.
 */
export function requestValue<T>(name: RequestProperty): RequestValue<T> {
  const proto = IncomingMessage.prototype;
  if (Object.getOwnPropertyDescriptor(proto, name)?.get !== getters[name]) {
    Object.defineProperty(proto, name, {
      configurable: true,
      enumerable: false,
      get: getters[name],
      set(this: object, value: unknown) {
        Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
      },
    });
  }
  return {
    get: (req) =>
      (Object.hasOwn(req, name) ? (req as Record<string, unknown>)[name] : existingContext(req)?.[name]) as
        | T
        | undefined,
    set(req, value) {
      // A request that is not Node's (a test's plain object) has no getter to read the context: it gets a property.
      if (Object.hasOwn(req, name) || !(req instanceof IncomingMessage)) {
        (req as Record<string, unknown>)[name] = value;
      } else {
        contextOf(req)[name] = value;
      }
    },
    unset(req) {
      if (Object.hasOwn(req, name)) delete (req as Record<string, unknown>)[name];
      const context = existingContext(req);
      if (context !== undefined) context[name] = undefined;
    },
  };
}

/** One getter per property, the same function for every middleware that offers it. */
const getters: Record<RequestProperty, (this: object) => unknown> = {
  session(this: object) {
    return existingContext(this)?.session;
  },
  rateLimit(this: object) {
    return existingContext(this)?.rateLimit;
  },
  responseCache(this: object) {
    return existingContext(this)?.responseCache;
  },
};
