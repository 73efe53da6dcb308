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

/** What every session has, next to its data. */
export interface SessionMethods {
  /**
   * The session's id: the secret the cookie carries. Read-only; it changes on `signIn` and `regenerate`.
   * Treat it like a password: never log it or put it in a page.
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
  /**
   * Signs `userId` in: the session gets a new id in the user's hash slot (the old id stops working) and joins
   * the user's device list. Keeps the data by default. Call it before the response is sent.
   */
  signIn(userId: string | number, options?: KeepOptions): Promise<void>;
  /** Ends the session and removes it from the user's device list; drops the data unless told to keep some. */
  signOut(options?: KeepOptions): Promise<void>;
  /** Gives the session a new id (against fixation), keeping its data by default, its user and its deadline. */
  regenerate(options?: KeepOptions): Promise<void>;
  /** Deletes the session in Redis and clears its data; the cookie is cleared with the response. */
  destroy(): Promise<void>;
  /**
   * Writes pending changes now instead of with the response, so the handler learns about failures. Rejects
   * with `ERR_SESSION_GONE` when the session was ended meanwhile.
   */
  save(): Promise<void>;
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
    }
  }
}
