// One request's session: loading it, the session methods, and what is written when the response goes out.
import type { NextFunction, Request, Response } from 'express';
import { type RedisErrorReporter, sha256 } from '../redis/index.js';
import { clearCookieValue, setCookieValue, signId } from './cookie.js';
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
import { SessionObject } from './session-object.js';
import type { CreateResult, ReadReply, SessionLocation, SessionStore } from './store.js';

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
const CARRIED_META = ['@u', '@ua', '@ip', '@b'] as const;

type Keep = boolean | readonly string[];

/** Per-request state behind `req.session`. Created by the middleware for every request. */
export class RequestSession {
  readonly ctx: SessionContext;
  readonly req: Request;
  readonly res: Response;
  readonly session: SessionObject;
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
    this.ctx.store
      .read(cookie.key)
      .then(
        (reply) => this.#loaded(cookie, reply, next),
        (error: unknown) => this.#loadFailed(error, next),
      )
      .catch((error: unknown) => {
        this.ctx.config.logger.error('A request handler threw after the session was loaded', {
          source: 'session',
          error: error instanceof Error ? error.message : String(error),
        });
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
        const changes = this.#diff();
        if (changes !== undefined) this.pending = this.#update(changes);
      }
    } else {
      const saved = new Map<string, string>();
      const pairs = allFields(this.session, saved, this.#badValue);
      if (pairs.length > 0) {
        this.ensureId();
        this.#addFingerprint(pairs);
        this.stored = true;
        this.saved = saved;
        this.cookieTtl = this.ctx.config.idleMs;
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

  async signIn(userId: unknown, keep: Keep): Promise<void> {
    const uid = normalizeUserId(userId);
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
      pushMeta(pairs, meta);
      const old = this.stored || this.unknown ? this.location : undefined;
      const sameSlot = old !== undefined && old.tag === tag;
      const [joined, ended] = await Promise.allSettled([
        store.join(at, 0, 0, sameSlot ? old : undefined, false, pairs),
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
      pushMeta(pairs, meta);
      let id: string;
      let at: SessionLocation;
      let result: CreateResult | 'gone' | 'taken' | null;
      if (old.tag !== undefined) {
        id = newUserSessionId(old.tag);
        at = locate(store, id, old.tag);
        result = await store.join(at, this.created, this.absolute, old, true, pairs);
      } else {
        // Two slots: end the old one first, so a session ended meanwhile is not brought back under a new id.
        if (!(await store.end(old))) {
          result = 'gone';
        } else {
          id = newId();
          at = locate(store, id, undefined);
          result = await store.create(at.key, this.created, this.absolute, pairs);
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

  async destroy(): Promise<void> {
    this.#begin(false);
    try {
      if ((this.stored || this.unknown) && this.location !== undefined)
        await this.ctx.store.end(this.location);
      dropData(this.session, false);
      this.#forget(true);
      this.persist = true;
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
        const changes = this.#diff();
        if (changes === undefined) return;
        const location = this.location as SessionLocation;
        if (!(await this.ctx.store.update(location.key, changes.pairs, changes.deletions))) {
          dropData(this.session, false);
          this.#forget(true);
          throw new SessionError(
            'ERR_SESSION_GONE',
            'The session was ended by another request; nothing was saved.',
          );
        }
        applyChanges(this.saved as Map<string, string>, changes);
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
      const result = await this.ctx.store.create((this.location as SessionLocation).key, 0, 0, pairs);
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
    if (clearCookie && this.hadCookie) this.clearCookie = true;
  }

  #diff(): FieldChanges | undefined {
    return diffFields(this.session, this.saved as Map<string, string>, this.#badValue);
  }

  async #update(changes: FieldChanges): Promise<void> {
    try {
      const location = this.location as SessionLocation;
      if (await this.ctx.store.update(location.key, changes.pairs, changes.deletions)) {
        applyChanges(this.saved as Map<string, string>, changes);
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
      const result = await this.ctx.store.create((this.location as SessionLocation).key, 0, 0, pairs);
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
      value = setCookieValue(config.cookieName, signed, this.cookieTtl, config.cookieAttributes, secure);
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
