// Work that must run as a response's head goes out and before it ends, without patching the response object.
import { ServerResponse } from 'node:http';
import { contextOf, existingContext } from './request-context.js';

/**
 * What a middleware does when a response it follows sends its head and ends. The hooks object is usually the
 * middleware's per-request state itself, so following a response allocates nothing.
 */
export interface ResponseHooks {
  /**
   * The head is about to go out: `res.writeHead(...args)`, called by the app or by Node for the implicit head of
   * the first write. May run more than once (an app may call `writeHead` again): keep track.
   */
  head(res: ServerResponse, args: unknown[]): void;
  /**
   * `res.end(...args)` was called. End the response with {@link continueEnd}, now or once some work is done;
   * return what `res.end` returns (the response).
   */
  end(res: ServerResponse, args: unknown[]): ServerResponse;
  /** Hooks that followed the same response before these did: they run after these (set by {@link followResponse}). */
  nextHooks: ResponseHooks | undefined;
}

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;

/** A response that is not Node's ServerResponse, followed through methods of its own: its own methods. */
const ownMethods = new WeakMap<object, { writeHead: Method; end: Method }>();
let originals: { writeHead: Method; end: Method } | undefined;

/**
 * Runs `hooks` when `res` sends its head and when it ends.
 *
 * Why not `res.writeHead = ...` as usual: Express moves each response onto its app's prototype, and V8 then
 * copies the object's hidden class for every property set on it later (two to set, two to put back: about
 * 7 µs a request on Node 20; see request-context.ts). Instead `writeHead` and `end` are wrapped once on Node's
 * ServerResponse prototype, and the hooks wait in the request's context. Other packages' wrappers (set on the
 * response, as compression and on-headers do) still run, around these hooks.
 */
export function followResponse(res: ServerResponse, hooks: ResponseHooks): void {
  if (originals === undefined) originals = wrapPrototype();
  if (!(res instanceof ServerResponse) && !ownMethods.has(res)) wrapOwn(res);
  const context = contextOf(requestOf(res));
  hooks.nextHooks = context.hooks;
  context.hooks = hooks;
}

/** The hooks following `res`, the last added first. */
export function hooksOf(res: ServerResponse): ResponseHooks | undefined {
  return existingContext(requestOf(res))?.hooks;
}

/** The context is the request's: a response finds it through its request (Node and Express set `res.req`). */
function requestOf(res: ServerResponse): object {
  return (res as { req?: object }).req ?? res;
}

/** Ends the response from an `end` hook: the hooks that followed it before, then Node's `end`. */
export function continueEnd(res: ServerResponse, hooks: ResponseHooks, args: unknown[]): ServerResponse {
  const next = hooks.nextHooks;
  if (next !== undefined) return next.end(res, args);
  // Nothing follows the response any more: Node's own end (and the implicit head it may write) runs as is.
  const context = existingContext(requestOf(res));
  if (context !== undefined) context.hooks = undefined;
  const end = ownMethods.get(res)?.end ?? (originals as { end: Method }).end;
  return end.apply(res, args) as ServerResponse;
}

function wrapPrototype(): { writeHead: Method; end: Method } {
  const proto = ServerResponse.prototype as unknown as Record<'writeHead' | 'end', Method>;
  const original = { writeHead: proto.writeHead, end: proto.end };
  const hooked = hookedMethods(original);
  proto.writeHead = hooked.writeHead;
  proto.end = hooked.end;
  return original;
}

/** A response of another kind (HTTP/2's compatibility API, a test double) gets the wrappers as its own. */
function wrapOwn(res: ServerResponse): void {
  const target = res as unknown as Record<'writeHead' | 'end', Method>;
  const own = { writeHead: target.writeHead, end: target.end };
  ownMethods.set(res, own);
  const hooked = hookedMethods(own);
  target.writeHead = hooked.writeHead;
  target.end = hooked.end;
}

function hookedMethods(original: { writeHead: Method; end: Method }): { writeHead: Method; end: Method } {
  return {
    writeHead: function writeHead(this: ServerResponse, ...args: unknown[]): unknown {
      for (let h = hooksOf(this); h !== undefined; h = h.nextHooks) h.head(this, args);
      return original.writeHead.apply(this, args);
    },
    end: function end(this: ServerResponse, ...args: unknown[]): unknown {
      const hooks = hooksOf(this);
      return hooks === undefined ? original.end.apply(this, args) : hooks.end(this, args);
    },
  };
}
