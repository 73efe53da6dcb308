// The public types of sessions: the data interface users extend, the session object on req, device rows.

/**
 * Your session data. Extend it by declaration merging, so `req.session.cartId` is typed:
 *
 * ```ts
 * declare module 'express-redis-kit' {
 *   interface SessionData { cartId: string; csrf: string }
 * }
 * ```
 * Values must survive `JSON.stringify` (no Dates, Maps or class instances come back as such).
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in the user's code
export interface SessionData {}

/** Which data survives an id change: all of it (`true`), none (`false`), or the listed keys. */
export interface KeepOptions {
  // `string & {}` keeps editor completion of the SessionData keys while accepting any key.
  keep?: boolean | readonly ((keyof SessionData & string) | (string & {}))[];
}

/** Options of `signIn`: which data to keep, and optionally the session's lifetime ("remember me"). */
export interface SignInOptions extends KeepOptions {
  /**
   * How long the signed-in session survives without use, in ms, capped by `absoluteTimeout`; its cookie is
   * persistent for as long. `null` makes the cookie a browser-session cookie (the idle timeout still applies in
   * Redis). The same as setting `req.session.cookie.maxAge` after `signIn`.
   * @default the lifetime the session already has (`idleTimeout` unless it was set)
   */
  maxAge?: number | null;
}

/**
 * Called when a callback-style session method is done, with the error when it failed (as in express-session).
 */
// biome-ignore lint/suspicious/noExplicitAny: the signature express-session and the libraries built on it use
export type SessionCallback = (error?: any) => void;

/**
 * `req.session.cookie`: the session cookie as express-session presents it. Only its lifetime can be changed per
 * session; the other attributes come from the `cookie` option of `session()` (setting them throws
 * `ERR_SESSION_COOKIE_ATTRIBUTE`).
 */
export interface SessionCookie {
  /**
   * Milliseconds until the cookie (and the session in Redis) expires, or `null` for a browser-session cookie.
   * Setting a number is "remember me": from now on the session survives that long without use (capped by
   * `absoluteTimeout`) and its cookie is persistent for as long. Setting `null` or `undefined` makes it a
   * browser-session cookie. Must be set before the response headers are sent.
   */
  maxAge: number | null;
  /** When the cookie expires (`null` for a browser-session cookie). Setting a Date sets `maxAge`; `null`/`false` make a browser-session cookie. */
  get expires(): Date | null;
  set expires(value: Date | null | false | undefined);
  /** The session's lifetime in ms (its `maxAge` as set, else `idleTimeout`), or `null` for a browser-session cookie. */
  readonly originalMaxAge: number | null;
  readonly httpOnly: boolean;
  /** Whether this response's cookie is `Secure` (`'auto'` resolved against the request). */
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none' | false;
  readonly path: string;
  readonly domain: string | undefined;
}

/**
 * What every session has, next to its data. The names here are not available as data keys: assigning
 * `req.session.cookie = ...` (or `id`, `save`, ...) throws `ERR_SESSION_RESERVED_KEY`.
 */
export interface SessionMethods {
  /**
   * The session's id: the secret the cookie carries (also `req.sessionID`). Read-only; it changes on
   * `signIn` and `regenerate`. Treat it like a password: never log it or put it in a page.
   */
  readonly id: string;
  /**
   * A public name of this session (a SHA-256 of the id), safe to show and to pass to `revoke`; compare it with
   * the `handle` of {@link SessionInfo} rows, or pass it as `listForUser`'s `current`.
   */
  readonly handle: string;
  /** The signed-in user's id (as a string), or undefined for an anonymous session. */
  readonly userId: string | undefined;
  /** True until the session is stored in Redis (a new visitor's session is stored once it holds data). */
  readonly isNew: boolean;
  /** The session cookie; set `cookie.maxAge` for "remember me". */
  readonly cookie: SessionCookie;
  /**
   * Signs `userId` in: the session gets a new id in the user's hash slot (the old id stops working) and joins
   * the user's device list. Keeps the data by default. Call it before the response is sent.
   */
  signIn(userId: string | number, options?: SignInOptions): Promise<void>;
  /** Ends the session and removes it from the user's device list; drops the data unless told to keep some. */
  signOut(options?: KeepOptions): Promise<void>;
  /** Gives the session a new id (against fixation), keeping its data by default, its user and its deadline. */
  regenerate(options?: KeepOptions): Promise<void>;
  /**
   * express-session's form: ends the session and puts a new, empty one (new id, no user, default lifetime) on
   * `req.session`; the old object keeps its data for the callback to copy. Then calls `callback(error?)`.
   */
  regenerate(callback: SessionCallback): this;
  /** Deletes the session in Redis and clears its data; the cookie is cleared with the response. */
  destroy(): Promise<void>;
  /** express-session's form: deletes the session in Redis, unsets `req.session`, then calls `callback(error?)`. */
  destroy(callback: SessionCallback): this;
  /**
   * Writes pending changes now instead of with the response, so the handler learns about failures. Rejects
   * with `ERR_SESSION_GONE` when the session was ended meanwhile.
   */
  save(): Promise<void>;
  /** express-session's form of {@link save}: calls `callback(error?)` once written. */
  save(callback: SessionCallback): this;
  /**
   * Reloads the data from Redis, dropping unsaved changes. Rejects with `ERR_SESSION_GONE` when the session
   * is not (or no longer) stored.
   */
  reload(): Promise<void>;
  /** express-session's form of {@link reload}: calls `callback(error?)` when done. */
  reload(callback: SessionCallback): this;
  /**
   * Restarts the idle timeout (or the `maxAge` lifetime) from now, with the response, even when `touchAfter`
   * would have skipped this request's slide.
   */
  touch(): this;
}

/** `req.session`: your data as plain properties, plus the session's methods. */
export type Session = SessionMethods & Partial<SessionData>;

/** One signed-in session of a user, as `listForUser` reports it. */
export interface SessionInfo {
  /** Pass it to `revoke` to end this session. */
  readonly handle: string;
  /** When the user signed in on this device. */
  readonly createdAt: Date;
  /** The last request of this session (as precise as `touchAfter`). */
  readonly lastSeenAt: Date;
  /** When the session ends unless it is used again (idle timeout, capped by the absolute timeout). */
  readonly expiresAt: Date;
  /** The User-Agent header at sign-in. */
  readonly userAgent: string | undefined;
  /** The client IP at sign-in (`req.ip`, which follows Express `trust proxy`). */
  readonly ip: string | undefined;
  /** True for the session given as `current` (usually `req.session.handle`). */
  readonly current: boolean;
}

declare global {
  namespace Express {
    interface Request {
      /** The session, set by the `session()` middleware of express-redis-kit. */
      session: Session;
      /** The session's id, the same as `req.session.id` (as in express-session). */
      sessionID: string;
    }
  }
}
