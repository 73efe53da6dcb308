// One request's session: loading it, the session methods, and what is written when the response goes out.
import type { NextFunction, Request, Response } from 'express';
import { errorMessage } from '../core/index.js';
import { type RedisErrorReporter, sha256 } from '../redis/index.js';
import { browserCookieValue, clearCookieValue, setCookieValue, signId } from './cookie.js';
import type { KnownCookie } from './cookie-cache.js';
import { SessionError, storeError } from './errors.js';
import {
  allFields,
  applyChanges,
  diffFields,
  dropData,
  type FieldChanges,
  loadFields,
  type Meta,
  RESERVED_KEYS,
} from './fields.js';
import { handleOf, newId, newUserSessionId, userTag } from './ids.js';
import type { SessionConfig } from './options.js';
import { SessionCookieView } from './session-cookie.js';
import { SessionObject } from './session-object.js';
import type { CreateResult, ReadReply, SessionLocation, SessionStore } from './store.js';
import type { SessionCallback } from './types.js';

/** What one middleware instance shares with its requests. */
export interface SessionContext {
  readonly config: SessionConfig;
  readonly store: SessionStore;
  readonly report: RedisErrorReporter;
  /** The property of `res` holding its RequestSession. */
  readonly stateKey: symbol;
  /** The patched `res.writeHead` and `res.end`, created once per middleware. */
  readonly hooks: { readonly writeHead: Response['writeHead']; readonly end: Response['end'] };
  /** Set once a misuse warning was logged, so it is logged once per middleware. */
  warnedLateData: boolean;
}

/** Longest User-Agent kept for the device list. */
const MAX_USER_AGENT = 512;
/** Longest user id accepted (it is stored in each of the user's sessions). */
const MAX_USER_ID = 256;
/** Meta fields carried over when a session changes its id. */
const CARRIED_META = ['@u', '@ua', '@ip', '@b', '@m'] as const;
/** Shortest lifetime `req.session.cookie.maxAge` accepts (a session that ends sooner is better destroyed). */
const MIN_LIFETIME_MS = 1_000;

type Keep = boolean | readonly string[];

/** Per-request state behind `req.session`. Created by the middleware for every request. */
export class RequestSession {
  readonly ctx: SessionContext;
  readonly req: Request;
  readonly res: Response;
  session: SessionObject;
  origWriteHead: Response['writeHead'];
  origEnd: Response['end'];

  id: string | undefined;
  location: SessionLocation | undefined;
  userId: string | undefined;
  /** The session exists in Redis (or its creation is under way). */
  stored = false;
  /** A valid cookie came in but Redis could not be asked (policy 'anonymous'): the session may exist. */
  unknown = false;
  /** False when Redis failed at load: nothing is written and no cookie is sent, unless a method succeeds. */
  persist = true;
  /** A write failed: no more writes for this request. */
  failed = false;
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
  busy = false;
  committed = false;
  ending = false;
  /** The write started with the response headers; `end` waits for it. */
  pending: Promise<void> | undefined;
  endArgs: unknown[] = [];
  /** The session's expiry must be set anew with the next write (its lifetime changed, or `touch()`). */
  retime = false;
  /** `req.session.cookie`, made on first use. */
  #cookie: SessionCookieView | undefined;
  /** True once this request set the lifetime; until then the stored `@m` field (if any) applies. */
  #lifetimeSet = false;
  /** The lifetime this request set: ms, or null for a browser-session cookie. */
  #lifetime: number | null = null;
  #fingerprint: string | undefined;
  /** The signed cookie value of an id, once known. */
  #signed: { readonly id: string; readonly value: string } | undefined;

  constructor(ctx: SessionContext, req: Request, res: Response) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.session = new SessionObject(this);
    this.origWriteHead = res.writeHead;
    this.origEnd = res.end;
  }

  /** The id, creating one for a session that has none yet (it is stored only once it holds data). */
  ensureId(): string {
    if (this.id === undefined) {
      const id = newId();
      const handle = handleOf(id);
      this.id = id;
      this.location = { key: this.ctx.store.sessionKey(handle, undefined), handle, tag: undefined };
    }
    return this.id;
  }

  /**
   * Loads the session a valid cookie names, then continues the chain. Kept free of async functions: this is
   * the one Redis round trip of a returning visitor, and each promise layer costs on every request.
   */
  start(cookie: KnownCookie, next: NextFunction): void {
    this.hadCookie = true;
    this.id = cookie.id;
    // The cached cookie carries the session's location (key, handle, tag), computed once per cookie.
    this.location = cookie;
    // Signed with the current secret: the same value goes back out, without signing it again.
    if (cookie.keyIndex === 0) this.#signed = cookie;
    // With clientSideCaching, a session Redis would not slide and nobody changed is already in memory.
    const copy = this.ctx.store.copyOf(cookie.key);
    if (copy !== undefined) {
      this.#loaded(cookie, copy, next)?.catch((error: unknown) => this.#handlerThrew(error));
      return;
    }
    this.ctx.store
      .read(cookie.key)
      .then(
        (reply) => this.#loaded(cookie, reply, next),
        (error: unknown) => this.#loadFailed(error, next),
      )
      .catch((error: unknown) => this.#handlerThrew(error));
  }

  #handlerThrew(error: unknown): void {
    this.ctx.config.logger.error('A request handler threw after the session was loaded', {
      source: 'session',
      error: errorMessage(error),
    });
  }

  #loadFailed(error: unknown, next: NextFunction): void {
    this.ctx.report(error, 'session load');
    this.persist = false;
    if (this.ctx.config.onRedisError === 'fail-closed') {
      next(storeError(error, 'load the session'));
      return;
    }
    // 'anonymous': the request goes on with an empty session, nothing is written, the cookie is left alone.
    this.unknown = true;
    next();
  }

  #loaded(cookie: KnownCookie, reply: ReadReply, next: NextFunction): void | Promise<void> {
    if (reply === null) {
      // Expired, revoked or never existed: the visitor starts afresh, and the stale cookie is cleared.
      this.#forget(true);
      next();
      return;
    }
    const { config } = this.ctx;
    const saved = new Map<string, string>();
    const meta = loadFields(reply[2], this.session, saved);
    if (config.bind !== undefined && meta['@b'] !== undefined && meta['@b'] !== this.#bindValue()) {
      return this.#unbind(cookie, meta, next);
    }
    this.stored = true;
    this.saved = saved;
    this.meta = meta;
    this.userId = cookie.tag === undefined ? undefined : meta['@u'];
    this.created = Number(meta['@c'] ?? 0);
    this.absolute = Number(meta['@a'] ?? 0);
    // A slide moved the server's expiry, and a cookie signed by an old secret is re-signed: both need Set-Cookie.
    if (reply[1] === 1 || cookie.keyIndex > 0) this.cookieTtl = Number(reply[0]);
    next();
  }

  /** The session was made by another client (binding mismatch): end it, and go on without it. */
  async #unbind(cookie: KnownCookie, meta: Meta, next: NextFunction): Promise<void> {
    this.ctx.config.logger.warn('Session binding mismatch: the session was ended', {
      source: 'session',
      handle: cookie.handle,
      userId: meta['@u'],
    });
    dropData(this.session, false);
    this.#forget(true);
    try {
      await this.ctx.store.end(cookie);
    } catch (error) {
      this.ctx.report(error, 'session bind check');
    }
    next();
  }

  /** Called once, just before the response headers go out: starts the write and sets the cookie. */
  commitHeaders(headers?: unknown): void {
    this.committed = true;
    if (!this.persist) return;
    if (this.stored) {
      if (!this.failed) {
        const changes = this.retime ? this.#retimeChanges() : this.#diff();
        if (changes !== undefined) this.pending = this.#update(changes);
      }
    } else {
      const saved = new Map<string, string>();
      const pairs = allFields(this.session, saved, this.#badValue);
      if (pairs.length > 0) {
        this.ensureId();
        this.#addFingerprint(pairs);
        this.#addLifetime(pairs);
        this.stored = true;
        this.saved = saved;
        // What the create will set: a lifetime of its own may exceed the absolute timeout, which caps it.
        this.cookieTtl = Math.min(this.idleMs(), this.ctx.config.absoluteMs);
        this.pending = this.#createAtCommit(pairs);
      }
    }
    this.#setCookie(headers);
  }

  /** At `res.end` after the headers already went out: writes what the handler changed since. */
  lateWrites(): void {
    if (!this.persist || this.failed) return;
    if (this.stored) {
      const prior = this.pending;
      this.pending = prior === undefined ? this.#updateLate() : prior.then(() => this.#updateLate());
    } else if (allFields(this.session, new Map(), this.#badValue).length > 0 && !this.ctx.warnedLateData) {
      this.ctx.warnedLateData = true;
      this.ctx.config.logger.warn(
        'Session data was set after the response headers were sent, on a session that had no cookie yet: ' +
          'it was not saved. Set session data before sending the response.',
        { source: 'session', path: this.req.path },
      );
    }
  }

  /** Restores the response's methods and ends it for real. */
  finishEnd(): Response {
    const { res, ctx } = this;
    if (res.writeHead === ctx.hooks.writeHead) res.writeHead = this.origWriteHead;
    if (res.end === ctx.hooks.end) res.end = this.origEnd;
    return (this.origEnd as (...args: unknown[]) => Response).apply(res, this.endArgs);
  }

  /** {@link finishEnd} after an asynchronous wait, where a throw would otherwise go unhandled. */
  finishEndSafely(): void {
    try {
      this.finishEnd();
    } catch (error) {
      this.ctx.config.logger.error('Ending the response failed after the session was saved', {
        source: 'session',
        error: error instanceof Error ? error.message : String(error),
      });
      this.res.destroy();
    }
  }

  async signIn(userId: unknown, keep: Keep, maxAge?: number | null): Promise<void> {
    const uid = normalizeUserId(userId);
    const lifetime =
      maxAge === undefined ? this.lifetime() : maxAge === null ? null : this.#checkLifetime(maxAge);
    this.#begin(true);
    try {
      const { config, store } = this.ctx;
      const tag = userTag(config.tagKeys[0] as Buffer, uid);
      const id = newUserSessionId(tag);
      const at = locate(store, id, tag);
      const saved = new Map<string, string>();
      const pairs = allFields(keptView(this.session, keep), saved, this.#badValue);
      const meta: Meta = { '@u': uid };
      const userAgent = this.req.headers['user-agent'];
      if (userAgent) meta['@ua'] = userAgent.slice(0, MAX_USER_AGENT);
      if (this.req.ip) meta['@ip'] = this.req.ip;
      if (config.bind !== undefined) meta['@b'] = this.#bindValue();
      if (lifetime !== undefined) meta['@m'] = encodeLifetime(lifetime);
      pushMeta(pairs, meta);
      const old = this.stored || this.unknown ? this.location : undefined;
      const sameSlot = old !== undefined && old.tag === tag;
      const [joined, ended] = await Promise.allSettled([
        store.join(at, 0, 0, sameSlot ? old : undefined, false, pairs, idleOf(lifetime, config.idleMs)),
        old !== undefined && !sameSlot ? store.end(old) : Promise.resolve(false),
      ]);
      if (joined.status === 'rejected' || ended.status === 'rejected') {
        // Never leave a half sign-in: without the old session ended, the new one must not live either.
        if (joined.status === 'fulfilled' && typeof joined.value === 'object') {
          store.end(at).catch((error: unknown) => this.ctx.report(error, 'session sign-in cleanup'));
        }
        if (ended.status === 'fulfilled' && old !== undefined) this.#forget(false);
        throw joined.status === 'rejected' ? joined.reason : (ended as PromiseRejectedResult).reason;
      }
      const result = joined.value;
      if (typeof result !== 'object') {
        throw new SessionError('ERR_SESSION_STORE', 'Could not create the signed-in session (id taken).');
      }
      dropData(this.session, keep);
      this.#become(id, at, uid, result, saved, meta);
    } catch (error) {
      throw asSessionError(error, 'sign in');
    } finally {
      this.busy = false;
    }
  }

  async regenerate(keep: Keep): Promise<void> {
    this.#begin(true);
    try {
      const { store } = this.ctx;
      const old = this.location;
      if ((!this.stored && !this.unknown) || old === undefined) {
        // Nothing in Redis yet: a new id costs nothing.
        dropData(this.session, keep);
        this.id = undefined;
        this.location = undefined;
        return;
      }
      if (this.unknown) {
        // Redis could not load it: end it, and let the kept data start a new session with the response.
        await store.end(old);
        dropData(this.session, keep);
        this.#forget(true);
        this.persist = true;
        return;
      }
      const saved = new Map<string, string>();
      const pairs = allFields(keptView(this.session, keep), saved, this.#badValue);
      const meta = carriedMeta(this.meta);
      const lifetime = this.lifetime();
      if (lifetime !== undefined) meta['@m'] = encodeLifetime(lifetime);
      const idle = this.idleMs();
      pushMeta(pairs, meta);
      let id: string;
      let at: SessionLocation;
      let result: CreateResult | 'gone' | 'taken' | null;
      if (old.tag !== undefined) {
        id = newUserSessionId(old.tag);
        at = locate(store, id, old.tag);
        result = await store.join(at, this.created, this.absolute, old, true, pairs, idle);
      } else {
        // Two slots: end the old one first, so a session ended meanwhile is not brought back under a new id.
        if (!(await store.end(old))) {
          result = 'gone';
        } else {
          id = newId();
          at = locate(store, id, undefined);
          result = await store.create(at.key, this.created, this.absolute, pairs, idle);
          if (result === null) result = 'gone';
        }
      }
      if (typeof result !== 'object' || result === null) {
        dropData(this.session, false);
        this.#forget(true);
        throw new SessionError(
          'ERR_SESSION_GONE',
          'The session was ended by another request; it was not renewed.',
        );
      }
      dropData(this.session, keep);
      // biome-ignore lint/style/noNonNullAssertion: both are set on the path that produced a result
      this.#become(id!, at!, this.userId, result, saved, meta);
    } catch (error) {
      throw asSessionError(error, 'regenerate the session');
    } finally {
      this.busy = false;
    }
  }

  /** Ends the session; `unset` also removes `req.session`, as express-session's `destroy(callback)` does. */
  async destroy(unset = false): Promise<void> {
    this.#begin(false);
    try {
      if ((this.stored || this.unknown) && this.location !== undefined)
        await this.ctx.store.end(this.location);
      dropData(this.session, false);
      this.#forget(true);
      this.persist = true;
      if (unset && this.req.session === (this.session as unknown)) {
        delete (this.req as { session?: unknown }).session;
      }
    } catch (error) {
      throw asSessionError(error, 'destroy the session');
    } finally {
      this.busy = false;
    }
  }

  async signOut(keep: Keep): Promise<void> {
    const kept = keep === false ? undefined : { ...keptView(this.session, keep) };
    await this.destroy();
    if (kept !== undefined) Object.assign(this.session, kept);
  }

  async save(): Promise<void> {
    this.#begin(false);
    try {
      if (!this.persist) {
        throw new SessionError(
          'ERR_SESSION_STORE',
          'The session could not be loaded from Redis for this request, so it cannot be saved.',
        );
      }
      if (this.stored) {
        await this.pending;
        const retime = this.retime && !this.committed;
        const changes = retime ? this.#retimeChanges() : this.#diff();
        if (changes === undefined) return;
        const location = this.location as SessionLocation;
        const written = await this.ctx.store.update(
          location.key,
          changes.pairs,
          changes.deletions,
          retime ? this.idleMs() : 0,
        );
        if (!written) {
          dropData(this.session, false);
          this.#forget(true);
          throw new SessionError(
            'ERR_SESSION_GONE',
            'The session was ended by another request; nothing was saved.',
          );
        }
        applyChanges(this.saved as Map<string, string>, changes);
        if (retime) this.#retimed();
        return;
      }
      const saved = new Map<string, string>();
      const pairs = allFields(this.session, saved, this.#badValue);
      if (pairs.length === 0) return;
      if (this.committed || this.res.headersSent) {
        throw new SessionError(
          'ERR_SESSION_HEADERS_SENT',
          'A new session cannot be saved after the headers were sent.',
        );
      }
      this.ensureId();
      this.#addFingerprint(pairs);
      this.#addLifetime(pairs);
      const result = await this.ctx.store.create(
        (this.location as SessionLocation).key,
        0,
        0,
        pairs,
        this.idleMs(),
      );
      if (result === null)
        throw new SessionError('ERR_SESSION_STORE', 'Could not create the session (id taken).');
      this.stored = true;
      this.saved = saved;
      this.created = result.created;
      this.absolute = result.absolute;
      this.cookieTtl = result.ttlMs;
    } catch (error) {
      throw asSessionError(error, 'save the session');
    } finally {
      this.busy = false;
    }
  }

  /**
   * express-session's `regenerate(callback)`: ends the stored session and puts a new, empty one on
   * `req.session` (new id, no user, default lifetime). The old object keeps its data, so a caller can copy
   * from it (Passport's `keepSessionInfo`); it is no longer saved.
   */
  async replace(): Promise<void> {
    this.#begin(true);
    try {
      if ((this.stored || this.unknown) && this.location !== undefined)
        await this.ctx.store.end(this.location);
      this.#forget(true);
      this.persist = true;
      const fresh = new SessionObject(this);
      this.session = fresh;
      this.req.session = fresh as unknown as Request['session'];
    } catch (error) {
      throw asSessionError(error, 'regenerate the session');
    } finally {
      this.busy = false;
    }
  }

  /** Reads the session from Redis again, replacing its data (and dropping unsaved changes). */
  async reload(): Promise<void> {
    this.#begin(false);
    try {
      const location = this.location;
      if ((!this.stored && !this.unknown) || location === undefined) {
        throw new SessionError(
          'ERR_SESSION_GONE',
          'The session is not stored in Redis, so it cannot be reloaded.',
        );
      }
      await this.pending;
      const reply = await this.ctx.store.read(location.key);
      dropData(this.session, false);
      if (reply === null) {
        this.#forget(true);
        throw new SessionError(
          'ERR_SESSION_GONE',
          'The session was ended by another request; nothing was reloaded.',
        );
      }
      const saved = new Map<string, string>();
      const meta = loadFields(reply[2], this.session, saved);
      this.stored = true;
      this.unknown = false;
      this.persist = true;
      this.failed = false;
      this.saved = saved;
      this.meta = meta;
      this.userId = location.tag === undefined ? undefined : meta['@u'];
      this.created = Number(meta['@c'] ?? 0);
      this.absolute = Number(meta['@a'] ?? 0);
      this.#lifetimeSet = false;
      this.retime = false;
      if (reply[1] === 1 && !this.committed) this.cookieTtl = Number(reply[0]);
    } catch (error) {
      throw asSessionError(error, 'reload the session');
    } finally {
      this.busy = false;
    }
  }

  /** Restarts the session's expiry with the next write (before the headers go out; later it is a no-op). */
  touch(): void {
    if (!this.committed && !this.res.headersSent) this.retime = true;
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
          error: error instanceof Error ? error.message : String(error),
        });
      });
  }

  /** `req.session.cookie`. */
  cookie(): SessionCookieView {
    this.#cookie ??= new SessionCookieView(this);
    return this.#cookie;
  }

  /** The session's own lifetime: ms, null for a browser-session cookie, undefined for the default. */
  lifetime(): number | null | undefined {
    if (this.#lifetimeSet) return this.#lifetime;
    const stored = this.meta?.['@m'];
    return stored === undefined ? undefined : decodeLifetime(stored);
  }

  /** How long this session survives without use: its own lifetime, else `idleTimeout`. */
  idleMs(): number {
    return idleOf(this.lifetime(), this.ctx.config.idleMs);
  }

  /** Sets the session's lifetime ("remember me"); null makes its cookie a browser-session cookie. */
  setLifetime(ms: number | null): void {
    const lifetime = ms === null ? null : this.#checkLifetime(ms);
    if (this.committed || this.res.headersSent) {
      throw new SessionError(
        'ERR_SESSION_HEADERS_SENT',
        'The session cookie cannot change after the response headers were sent: set its maxAge before responding.',
      );
    }
    this.#lifetimeSet = true;
    this.#lifetime = lifetime;
    this.retime = true;
  }

  /** When the cookie expires (ms since the epoch), or null for a browser-session cookie. */
  cookieExpiresAt(): number | null {
    if (this.lifetime() === null) return null;
    const now = Date.now();
    const deadline = this.absolute > 0 ? this.absolute : now + this.ctx.config.absoluteMs;
    if (this.retime || !this.stored) return Math.min(now + this.idleMs(), deadline);
    // Slid by this request's read: the reply's TTL counts from (about) now.
    if (this.cookieTtl >= 0) return now + this.cookieTtl;
    const seen = Number(this.meta?.['@s'] ?? now);
    return Math.min(seen + this.idleMs(), deadline);
  }

  #checkLifetime(ms: number): number {
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
  #retimeChanges(): FieldChanges {
    const changes: FieldChanges = this.#diff() ?? { pairs: [], deletions: [], changed: new Map() };
    if (this.#lifetimeSet) changes.pairs.push('@m', encodeLifetime(this.#lifetime));
    const now = Date.now();
    this.cookieTtl = Math.max(0, Math.min(this.idleMs(), (this.absolute > 0 ? this.absolute : now) - now));
    return changes;
  }

  /** The new expiry is in Redis: the lifetime set on this request is now the stored one. */
  #retimed(): void {
    this.retime = false;
    if (this.#lifetimeSet && this.meta !== undefined) {
      this.meta['@m'] = encodeLifetime(this.#lifetime);
      this.#lifetimeSet = false;
    }
  }

  #begin(setsCookie: boolean): void {
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
  }

  /** Adopts a session just created under a new id. */
  #become(
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
    this.stored = true;
    this.unknown = false;
    this.persist = true;
    this.failed = false;
    this.saved = saved;
    this.meta = meta;
    this.created = result.created;
    this.absolute = result.absolute;
    this.cookieTtl = result.ttlMs;
    this.clearCookie = false;
    // The lifetime went into the new session's `@m` field.
    this.#lifetimeSet = false;
    this.retime = false;
  }

  /** Forgets the stored session: from now on this is a new, unsaved session. */
  #forget(clearCookie: boolean): void {
    this.id = undefined;
    this.location = undefined;
    this.userId = undefined;
    this.stored = false;
    this.unknown = false;
    this.saved = undefined;
    this.meta = undefined;
    this.created = 0;
    this.absolute = 0;
    this.cookieTtl = -1;
    this.#lifetimeSet = false;
    this.retime = false;
    if (clearCookie && this.hadCookie) this.clearCookie = true;
  }

  #diff(): FieldChanges | undefined {
    return diffFields(this.session, this.saved as Map<string, string>, this.#badValue);
  }

  async #update(changes: FieldChanges): Promise<void> {
    try {
      const location = this.location as SessionLocation;
      const retime = this.retime;
      if (
        await this.ctx.store.update(
          location.key,
          changes.pairs,
          changes.deletions,
          retime ? this.idleMs() : 0,
        )
      ) {
        applyChanges(this.saved as Map<string, string>, changes);
        if (retime) this.#retimed();
      }
    } catch (error) {
      this.failed = true;
      this.ctx.report(error, 'session save');
    }
  }

  #updateLate(): Promise<void> | undefined {
    if (this.failed || !this.stored) return undefined;
    const changes = this.#diff();
    return changes === undefined ? undefined : this.#update(changes);
  }

  async #createAtCommit(pairs: string[]): Promise<void> {
    try {
      const result = await this.ctx.store.create(
        (this.location as SessionLocation).key,
        0,
        0,
        pairs,
        this.idleMs(),
      );
      if (result !== null) {
        this.created = result.created;
        this.absolute = result.absolute;
      }
    } catch (error) {
      this.failed = true;
      this.ctx.report(error, 'session save');
    }
  }

  #signedValue(id: string): string {
    if (this.#signed?.id === id) return this.#signed.value;
    const value = signId(id, this.ctx.config.signKeys[0] as Buffer);
    this.#signed = { id, value };
    return value;
  }

  #setCookie(headers: unknown): void {
    const { config } = this.ctx;
    let value: string;
    const secure = config.secure === 'auto' ? this.req.secure : config.secure;
    if (this.stored && this.cookieTtl >= 0 && this.id !== undefined) {
      const signed = this.#signedValue(this.id);
      value =
        this.lifetime() === null
          ? browserCookieValue(config.cookieName, signed, config.cookieAttributes, secure)
          : setCookieValue(config.cookieName, signed, this.cookieTtl, config.cookieAttributes, secure);
    } else if (!this.stored && this.clearCookie) {
      value = clearCookieValue(config.cookieName, config.cookieAttributes, secure);
    } else {
      return;
    }
    // `res.writeHead(status, { 'Set-Cookie': ... })` would replace a header set before it: join that one.
    if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
      const record = headers as Record<string, unknown>;
      for (const name of Object.keys(record)) {
        if (name.toLowerCase() !== 'set-cookie') continue;
        const current = record[name];
        record[name] = [
          ...(Array.isArray(current) ? current : current === undefined ? [] : [current]),
          value,
        ];
        return;
      }
    }
    this.res.append('Set-Cookie', value);
  }

  #addFingerprint(pairs: string[]): void {
    if (this.ctx.config.bind !== undefined) pairs.push('@b', this.#bindValue());
  }

  /** A new session stores the lifetime set before it was created. */
  #addLifetime(pairs: string[]): void {
    if (this.#lifetimeSet) pairs.push('@m', encodeLifetime(this.#lifetime));
    this.retime = false;
  }

  /** The hashed binding value of this request (hashed so a raw User-Agent or IP is not stored for it). */
  #bindValue(): string {
    if (this.#fingerprint === undefined) {
      let raw = '';
      try {
        raw = String((this.ctx.config.bind as (req: Request) => string)(this.req));
      } catch (error) {
        this.ctx.config.logger.error('The session `bind` function threw; binding to an empty value', {
          source: 'session',
          error: error instanceof Error ? error.message : String(error),
        });
      }
      this.#fingerprint = sha256(raw).slice(0, 22);
    }
    return this.#fingerprint;
  }

  readonly #badValue = (key: string, error: unknown): void => {
    this.ctx.config.logger.error(`Session key '${key}' is not JSON-serialisable; it was not saved`, {
      source: 'session',
      error: error instanceof Error ? error.message : String(error),
    });
  };
}

function locate(store: SessionStore, id: string, tag: string | undefined): SessionLocation {
  const handle = handleOf(id);
  return { key: store.sessionKey(handle, tag), handle, tag };
}

/** The data `keep` selects, as a plain object. */
function keptView(source: object, keep: Keep): object {
  if (keep === true) return source;
  const view: Record<string, unknown> = {};
  if (keep === false) return view;
  const data = source as Record<string, unknown>;
  for (const key of keep) {
    if (Object.hasOwn(source, key) && !RESERVED_KEYS.has(key)) view[key] = data[key];
  }
  return view;
}

function carriedMeta(meta: Meta | undefined): Meta {
  const carried: Meta = {};
  if (meta === undefined) return carried;
  for (const name of CARRIED_META) {
    const value = meta[name];
    if (value !== undefined) carried[name] = value;
  }
  return carried;
}

/** `@m`: a lifetime in ms, or '0' for a browser-session cookie (whose session keeps the default idle timeout). */
function encodeLifetime(lifetime: number | null): string {
  return lifetime === null ? '0' : String(lifetime);
}

function decodeLifetime(stored: string): number | null {
  const ms = Number(stored);
  return ms > 0 ? ms : null;
}

function idleOf(lifetime: number | null | undefined, fallback: number): number {
  return typeof lifetime === 'number' ? lifetime : fallback;
}

function pushMeta(pairs: string[], meta: Meta): void {
  for (const name of Object.keys(meta)) pairs.push(name, meta[name] as string);
}

/** User ids are stored as strings: a non-empty string of at most 256 characters, or a finite number. */
export function normalizeUserId(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_ID) return value;
  throw new SessionError(
    'ERR_SESSION_USER_ID',
    `A user id must be a non-empty string of at most ${MAX_USER_ID} characters or a finite number.`,
  );
}

function asSessionError(error: unknown, action: string): SessionError {
  return error instanceof SessionError ? error : storeError(error, action);
}
