// One request's session: what it holds, where it stands with Redis, its lifetime, and the entry to its methods.
import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { errorMessage, type RequestValue, type ResponseHooks } from '../core/index.js';
import type { RedisErrorReporter } from '../redis/index.js';
import { fingerprintOf } from './bind.js';
import { asSessionError, SessionError } from './errors.js';
import {
  decodeLifetime,
  diffFields,
  encodeLifetime,
  type FieldChanges,
  idleOf,
  type Meta,
} from './fields.js';
import { sessionEnd, sessionHead } from './hooks.js';
import { newId } from './ids.js';
import type { ResolvedSessionConfig, SessionRedisErrorPolicy } from './options.js';
import { ReqSession } from './req-session.js';
import { SessionCookieView } from './session-cookie.js';
import { isStored, isUnloaded, type SessionState } from './state.js';
import type { CreateResult, SessionLocation, SessionStore } from './store.js';
import type { SessionCallback } from './types.js';

/** What one middleware instance shares with its requests. */
export interface SessionContext {
  readonly config: ResolvedSessionConfig;
  readonly store: SessionStore;
  readonly report: RedisErrorReporter;
  /** `req.session`. */
  readonly reqSession: RequestValue<unknown>;
  /** Set once a misuse warning was logged, so it is logged once per middleware. */
  warnedLateData: boolean;
}

/** Shortest lifetime `req.session.cookie.maxAge` accepts (a session that ends sooner is better destroyed). */
const MIN_LIFETIME_MS = 1_000;

/**
 * The per-request side of `req.session`, created by the middleware for every request: the loaded session, its
 * {@link SessionState}, what goes out with the response (hooks.ts) and the session methods (methods.ts).
 */
export class SessionController implements ResponseHooks {
  readonly ctx: SessionContext;
  readonly req: Request;
  readonly res: Response;
  /** `req.session` (express-session's `regenerate(callback)` puts a new one there). */
  object: ReqSession;
  nextHooks: ResponseHooks | undefined;

  id: string | undefined;
  location: SessionLocation | undefined;
  userId: string | undefined;
  hadCookie = false;
  /** JSON of each data key as Redis holds it. */
  saved: Map<string, string> | undefined;
  meta: Meta | undefined;
  created = 0;
  absolute = 0;
  /** Send the cookie with this Max-Age (ms); -1 = no Set-Cookie for the session. */
  cookieTtl = -1;
  /** Send a cookie that deletes the browser's one (when no session remains). */
  clearCookie = false;
  /** The signed cookie value of an id, once known (signing costs an HMAC). */
  signed: { readonly id: string; readonly value: string } | undefined;
  busy = false;
  committed = false;
  ending = false;
  /** The write started with the response headers; `end` waits for it. */
  pending: Promise<void> | undefined;
  /** The arguments of the `res.end` call that waits for the write. */
  endArgs: unknown[] | undefined;
  /** The session's expiry must be set anew with the next write (its lifetime changed, or `touch()`). */
  retime = false;
  /** Where the session stands with Redis; changed only by the transitions below. */
  #state: SessionState = 'new';
  /** `req.session.cookie`, made on first use. */
  #cookie: SessionCookieView | undefined;
  /** The lifetime this request set (ms, or null for a browser-session cookie); until it sets one, undefined. */
  #newLifetime: number | null | undefined;
  #fingerprint: string | undefined;

  constructor(ctx: SessionContext, req: Request, res: Response) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.object = new ReqSession(this);
  }

  /** The response's head is going out (see hooks.ts). */
  head(_res: ServerResponse, args: unknown[]): void {
    sessionHead(this, args);
  }

  /** The response is ending (see hooks.ts). */
  end(_res: ServerResponse, args: unknown[]): ServerResponse {
    return sessionEnd(this, args);
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The id, creating one for a session that has none yet (it is stored only once it holds data). */
  ensureId(): string {
    if (this.id === undefined) {
      const id = newId();
      this.id = id;
      this.location = this.ctx.store.locate(id, undefined);
    }
    return this.id;
  }

  // Transitions of the state: each one sets everything that goes with it.

  /** Redis answered with the session's fields (at load or reload): it is stored, and this is its data. */
  loaded(saved: Map<string, string>, meta: Meta): void {
    this.#state = 'stored';
    this.saved = saved;
    this.meta = meta;
    this.userId = (this.location as SessionLocation).tag === undefined ? undefined : meta['@u'];
    this.created = Number(meta['@c'] ?? 0);
    this.absolute = Number(meta['@a'] ?? 0);
    this.#newLifetime = undefined;
    this.retime = false;
  }

  /** Redis could not load the session the cookie names; under `'anonymous'` the request goes on without it. */
  loadFailed(policy: SessionRedisErrorPolicy): void {
    this.#state = policy === 'anonymous' ? 'unconfirmed' : 'unsaved';
  }

  /** A new session's creation started (with the response, or by `save()`): it counts as stored from now on. */
  creating(saved: Map<string, string>): void {
    this.#state = 'stored';
    this.saved = saved;
  }

  /** Adopts a session just created under a new id (sign-in, renewal). */
  adopt(
    id: string,
    at: SessionLocation,
    userId: string | undefined,
    result: CreateResult,
    saved: Map<string, string>,
    meta: Meta,
  ): void {
    this.id = id;
    this.location = at;
    this.userId = userId;
    this.#state = 'stored';
    this.saved = saved;
    this.meta = meta;
    this.created = result.created;
    this.absolute = result.absolute;
    this.cookieTtl = result.ttlMs;
    this.clearCookie = false;
    // The lifetime went into the new session's `@m` field.
    this.#newLifetime = undefined;
    this.retime = false;
  }

  /**
   * The request lets go of its stored session (found gone, or ended): from now on this is a new, unsaved one,
   * which still writes nothing if Redis failed at load. `clearCookie`: the response clears the browser's cookie.
   */
  detach(clearCookie: boolean): void {
    this.id = undefined;
    this.location = undefined;
    this.userId = undefined;
    this.#state = isUnloaded(this.#state) ? 'unsaved' : 'new';
    this.saved = undefined;
    this.meta = undefined;
    this.created = 0;
    this.absolute = 0;
    this.cookieTtl = -1;
    this.#newLifetime = undefined;
    this.retime = false;
    if (clearCookie && this.hadCookie) this.clearCookie = true;
  }

  /** A session method ended the session in Redis: what follows is a new session, saved as usual. */
  ended(): void {
    this.detach(true);
    this.#state = 'new';
  }

  /** A write that went with the response failed: nothing more is written on this request. */
  writeFailed(): void {
    if (this.#state === 'stored') this.#state = 'write-failed';
  }

  // The lifetime: the session's own (`@m`, "remember me") or the idle timeout, and the cookie's expiry.

  /** The session's own lifetime: ms, null for a browser-session cookie, undefined for the default. */
  lifetime(): number | null | undefined {
    if (this.#newLifetime !== undefined) return this.#newLifetime;
    const stored = this.meta?.['@m'];
    return stored === undefined ? undefined : decodeLifetime(stored);
  }

  /** How long this session survives without use: its own lifetime, else `idleTimeout`. */
  idleMs(): number {
    return idleOf(this.lifetime(), this.ctx.config.idleMs);
  }

  /** Sets the session's lifetime ("remember me"); null makes its cookie a browser-session cookie. */
  setLifetime(ms: number | null): void {
    const lifetime = ms === null ? null : this.checkLifetime(ms);
    if (this.committed || this.res.headersSent) {
      throw new SessionError(
        'ERR_SESSION_HEADERS_SENT',
        'The session cookie cannot change after the response headers were sent: set its maxAge before responding.',
      );
    }
    this.#newLifetime = lifetime;
    this.retime = true;
  }

  /** When the cookie expires (ms since the epoch), or null for a browser-session cookie. */
  cookieExpiresAt(): number | null {
    if (this.lifetime() === null) return null;
    const now = Date.now();
    const deadline = this.absolute > 0 ? this.absolute : now + this.ctx.config.absoluteMs;
    if (this.retime || !isStored(this.#state)) return Math.min(now + this.idleMs(), deadline);
    // Slid by this request's read: the reply's TTL counts from (about) now.
    if (this.cookieTtl >= 0) return now + this.cookieTtl;
    const seen = Number(this.meta?.['@s'] ?? now);
    return Math.min(seen + this.idleMs(), deadline);
  }

  checkLifetime(ms: number): number {
    if (
      typeof ms !== 'number' ||
      !Number.isFinite(ms) ||
      ms < MIN_LIFETIME_MS ||
      ms <= this.ctx.config.touchAfterMs
    ) {
      throw new SessionError(
        'ERR_SESSION_MAX_AGE',
        `A session's maxAge must be a number of milliseconds of at least ${MIN_LIFETIME_MS} and longer than ` +
          `\`touchAfter\`, or null for a browser-session cookie (got ${String(ms)}).`,
      );
    }
    return Math.floor(ms);
  }

  /** The changed data plus the lifetime, for a write that also sets the expiry anew; sets the cookie's Max-Age to match. */
  retimeChanges(): FieldChanges {
    const changes: FieldChanges = this.diff() ?? { pairs: [], deletions: [] };
    if (this.#newLifetime !== undefined) changes.pairs.push('@m', encodeLifetime(this.#newLifetime));
    const now = Date.now();
    this.cookieTtl = Math.max(0, Math.min(this.idleMs(), (this.absolute > 0 ? this.absolute : now) - now));
    return changes;
  }

  /** The new expiry is in Redis: the lifetime set on this request is now the stored one. */
  retimed(): void {
    this.retime = false;
    if (this.#newLifetime !== undefined && this.meta !== undefined) {
      this.meta['@m'] = encodeLifetime(this.#newLifetime);
      this.#newLifetime = undefined;
    }
  }

  /** The fields a new session stores beside its data: its binding, and the lifetime set before it existed. */
  addCreationMeta(pairs: string[]): void {
    if (this.ctx.config.bind !== undefined) pairs.push('@b', this.bindValue());
    if (this.#newLifetime !== undefined) pairs.push('@m', encodeLifetime(this.#newLifetime));
    this.retime = false;
  }

  // What the session methods share.

  /**
   * Runs a session method: one at a time per request (ERR_SESSION_BUSY), those that set the cookie only
   * before the headers go out, and a Redis failure surfaces as ERR_SESSION_STORE naming `action`.
   */
  async run<A extends unknown[]>(
    action: string,
    setsCookie: boolean,
    method: (controller: SessionController, ...args: A) => Promise<void>,
    ...args: A
  ): Promise<void> {
    if (this.busy) {
      throw new SessionError(
        'ERR_SESSION_BUSY',
        'Another session method is still running on this request: await each call before the next one.',
      );
    }
    if (setsCookie && (this.committed || this.res.headersSent)) {
      throw new SessionError(
        'ERR_SESSION_HEADERS_SENT',
        'The session id cannot change after the response headers were sent: call this before responding.',
      );
    }
    this.busy = true;
    try {
      await method(this, ...args);
    } catch (error) {
      throw asSessionError(error, action);
    } finally {
      this.busy = false;
    }
  }

  /** Runs a session method for its callback form: the callback hears the outcome, a throw in it is logged. */
  settle(work: Promise<void>, callback: SessionCallback): void {
    work
      .then(
        () => callback(),
        (error: unknown) => callback(error),
      )
      .catch((error: unknown) => {
        this.ctx.config.logger.error('A session callback threw', {
          source: 'session',
          error: errorMessage(error),
        });
      });
  }

  /** `req.session.cookie`. */
  cookie(): SessionCookieView {
    this.#cookie ??= new SessionCookieView(this);
    return this.#cookie;
  }

  /** Restarts the session's expiry with the next write (before the headers go out; later it is a no-op). */
  touch(): void {
    if (!this.committed && !this.res.headersSent) this.retime = true;
  }

  /** What changed in the data since it was loaded or last written; undefined when nothing did. */
  diff(): FieldChanges | undefined {
    return diffFields(this.object, this.saved as Map<string, string>, this.ctx.config.logger);
  }

  /** The binding fingerprint of this request, computed once. */
  bindValue(): string {
    this.#fingerprint ??= fingerprintOf(
      this.ctx.config.bind as (req: Request) => string,
      this.req,
      this.ctx.config.logger,
    );
    return this.#fingerprint;
  }
}
