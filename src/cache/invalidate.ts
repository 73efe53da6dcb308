// Invalidation after unsafe requests (RFC 9111 §4.4): a successful POST, PUT, DELETE... removes the URL's entries.
import type { ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { KeyOf } from './key.js';
import type { ResponseMethod } from './response-method.js';
import type { CacheStore } from './store.js';

const STATE: unique symbol = Symbol('express-redis-kit.responseCache.invalidation');

interface Watched extends ServerResponse {
  [STATE]?: UnsafeRequest;
}

/**
 * Holds back the end of a response to an unsafe request until the entries of its target URI, and of the
 * same-origin URIs in its `Location` and `Content-Location` fields, are invalidated; only when the status is
 * 2xx or 3xx. Holding the end (not the headers) keeps read-your-writes: a client that reads the URL right
 * after the response is complete never gets the entry from before its write.
 */
export class UnsafeInvalidator {
  readonly #store: CacheStore;
  readonly #keyOf: KeyOf;

  constructor(store: CacheStore, keyOf: KeyOf) {
    this.#store = store;
    this.#keyOf = keyOf;
  }

  /** Watches the response to `req`; `key` is the request's cache key (undefined: only Location counts). */
  watch(req: Request, res: ServerResponse, key: string | undefined): void {
    const target = res as Watched;
    // Mounted twice on one route (app.use and the route): the first watch does the work.
    if (target[STATE] !== undefined) return;
    const state = new UnsafeRequest(this, req, res, key);
    target[STATE] = state;
    state.hadOwn = Object.hasOwn(res, 'end');
    state.originalEnd = res.end as unknown as ResponseMethod;
    res.end = end as ServerResponse['end'];
  }

  /** Removes every entry (all variants and private scopes) of each cache key. */
  invalidateKeys(keys: readonly string[]): Promise<number> {
    return this.#store.invalidateUrls(keys);
  }

  /** The cache keys a finished unsafe request invalidates. */
  targets(req: Request, res: ServerResponse, key: string | undefined): string[] {
    const keys: string[] = [];
    if (key !== undefined) keys.push(key);
    for (const field of ['location', 'content-location']) {
      const value = res.getHeader(field);
      if (typeof value !== 'string' || value === '') continue;
      const other = this.#keyOfLocation(req, value);
      if (other !== undefined && !keys.includes(other)) keys.push(other);
    }
    return keys;
  }

  /**
   * The cache key of a URI reference from `Location` or `Content-Location`, when it has the request's
   * origin (RFC 9111 §4.4 forbids invalidating another origin's URIs): the key function sees the request
   * with that URI's path and query in place of its own.
   */
  #keyOfLocation(req: Request, value: string): string | undefined {
    const host = req.headers.host;
    if (host === undefined) return undefined;
    let base: URL;
    let url: URL;
    try {
      base = new URL(req.originalUrl ?? req.url ?? '/', `${req.protocol}://${host}`);
      url = new URL(value, base);
    } catch {
      return undefined;
    }
    if (url.protocol !== base.protocol || (url.host !== base.host && url.hostname !== req.hostname)) {
      return undefined;
    }
    const path = url.pathname + url.search;
    const view = Object.create(req, {
      originalUrl: { value: path },
      url: { value: path },
      method: { value: 'GET' },
    }) as Request;
    try {
      const key = this.#keyOf(view);
      return typeof key === 'string' ? key : undefined;
    } catch {
      return undefined;
    }
  }

  report(error: unknown): void {
    this.#store.failed(error, 'invalidation');
  }
}

/** One unsafe request being watched. */
class UnsafeRequest {
  hadOwn = false;
  originalEnd: ResponseMethod | undefined;
  #pending = false;
  #restored = false;
  readonly #owner: UnsafeInvalidator;
  readonly #req: Request;
  readonly #res: ServerResponse;
  readonly #key: string | undefined;

  constructor(owner: UnsafeInvalidator, req: Request, res: ServerResponse, key: string | undefined) {
    this.#owner = owner;
    this.#req = req;
    this.#res = res;
    this.#key = key;
  }

  end(args: unknown[]): unknown {
    const res = this.#res;
    // A second end() while the first waits: the response is ending already, as Node would treat it.
    if (this.#pending) return res;
    const status = res.statusCode;
    if (this.#restored || status < 200 || status > 399) return this.#forward(args);
    const keys = this.#owner.targets(this.#req, res, this.#key);
    if (keys.length === 0) return this.#forward(args);
    this.#pending = true;
    this.#owner
      .invalidateKeys(keys)
      .catch((error: unknown) => this.#owner.report(error))
      .finally(() => {
        this.#pending = false;
        this.#forward(args);
      });
    return res;
  }

  /** Puts the original end back (where ours is still installed) and calls it. */
  #forward(args: unknown[]): unknown {
    const res = this.#res as unknown as Record<string, unknown>;
    const original = this.originalEnd as ResponseMethod;
    if (!this.#restored) {
      this.#restored = true;
      if (res.end === end) {
        if (this.hadOwn) res.end = original;
        else delete res.end;
      }
    }
    return original.apply(this.#res, args);
  }
}

function end(this: ServerResponse, ...args: unknown[]): unknown {
  const state = (this as Watched)[STATE];
  if (state === undefined) return undefined;
  return state.end(args);
}
