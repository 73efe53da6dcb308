// Reads of request and response members, and a `finish` listener, that skip V8's per-site property caches.
import { EventEmitter } from 'node:events';
import { IncomingMessage, OutgoingMessage } from 'node:http';

/*
 * Why: under Express every request and response has a hidden class of its own. Express moves each one onto its
 * app's prototype (`Object.setPrototypeOf`) and then adds members (`req.next`, `req.baseUrl`, `res.locals`), and
 * V8 gives an object new hidden classes for members added after a prototype change (see request-context.ts).
 * V8 then cannot reuse what it learned from earlier requests: the cache at each `req.member` in the code misses,
 * every time, and V8 resolves the member in its runtime, walking the prototype chain for inherited ones such as
 * `req.headers` and `res.getHeader`. `Reflect.get` looks the member up with V8's generic lookup instead, without
 * a runtime call; calling Node's own getter and method skips the walk as well. In a `finish` listener on a
 * 2-core VM, six reads by name took 2.4 µs a request, with `Reflect.get` 0.6 µs. On objects that are not Node's
 * (a test's plain object, HTTP/2's compatibility API), `requestHeaders`, `responseHeader` and `onFinish` use the
 * members by name.
 */
const headersGetter = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers')?.get;
const getHeader = OutgoingMessage.prototype.getHeader;

/** `req.headers`. */
export function requestHeaders(req: { headers: IncomingMessage['headers'] }): IncomingMessage['headers'] {
  return headersGetter !== undefined && req instanceof IncomingMessage
    ? (headersGetter.call(req) as IncomingMessage['headers'])
    : req.headers;
}

/** `res.getHeader(name)`. */
export function responseHeader(res: object, name: string): ReturnType<OutgoingMessage['getHeader']> {
  return res instanceof OutgoingMessage
    ? getHeader.call(res, name)
    : (res as Partial<OutgoingMessage>).getHeader?.(name);
}

/** `object[name]`: the same value (getters and proxies included), found without the property cache. */
export function member<T extends object, K extends keyof T>(object: T, name: K): T[K] {
  return Reflect.get(object, name) as T[K];
}

const addListener = EventEmitter.prototype.on;

/**
 * `res.on('finish', listener)` on Node's responses, calling `EventEmitter`'s method instead of finding `res.on`
 * five prototypes up (about half the time on a 2-core VM). An `on` replaced on the response (compression's,
 * which passes `finish` through; a tracing agent's, which carries its context into listeners) is skipped: the
 * listener must not need what it adds.
 */
export function onFinish<R extends { on(event: 'finish', listener: (this: R) => void): unknown }>(
  res: R,
  listener: (this: R) => void,
): void {
  if (res instanceof OutgoingMessage) addListener.call(res, 'finish', listener);
  else res.on('finish', listener);
}
