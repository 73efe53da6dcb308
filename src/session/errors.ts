// The error type the sessions middleware raises at request time (configuration errors are ConfigErrors).
import { errorMessage, type UnavailableError } from '../core/index.js';

/** Stable codes of {@link SessionError}. */
export type SessionErrorCode =
  /** Redis failed or did not answer in time; `cause` holds the underlying error. HTTP status 503. */
  | 'ERR_SESSION_STORE'
  /** A session method that must set the cookie was called after the response headers were sent. */
  | 'ERR_SESSION_HEADERS_SENT'
  /** A session method was called while another one on the same request had not finished (missing `await`). */
  | 'ERR_SESSION_BUSY'
  /** `signIn` got a user id that is not a non-empty string or a finite number. */
  | 'ERR_SESSION_USER_ID'
  /** The session to regenerate, save or reload was destroyed meanwhile (signed out or revoked elsewhere). */
  | 'ERR_SESSION_GONE'
  /** A data key named like a member of `req.session` (`cookie`, `id`, `save`, ...): data needs another name. */
  | 'ERR_SESSION_RESERVED_KEY'
  /** `req.session.cookie.maxAge` (or `expires`, or `signIn`'s `maxAge`) got a value that is not a lifetime. */
  | 'ERR_SESSION_MAX_AGE'
  /** A cookie attribute other than its lifetime was set on `req.session.cookie`: it is a `session()` option. */
  | 'ERR_SESSION_COOKIE_ATTRIBUTE';

/**
 * Raised by the sessions middleware at request time. With `onRedisError: 'fail-closed'` the middleware passes
 * an `ERR_SESSION_STORE` error to `next(err)`: it has the suite's one 503 shape ({@link UnavailableError}), so
 * Express's default handler answers "Service Unavailable" instead of 500.
 */
export class SessionError extends Error {
  override readonly name = 'SessionError';
  readonly code: SessionErrorCode;
  /** The HTTP status an error handler should answer with: 503 for `ERR_SESSION_STORE`, else 500. */
  readonly status: 503 | 500;
  /** The same as `status`, for handlers (and http-errors) that read `statusCode`. */
  readonly statusCode: 503 | 500;
  /** The message is not for the client: an error handler that honours `expose` keeps it in the logs. */
  readonly expose = false;

  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = code === 'ERR_SESSION_STORE' ? 503 : 500;
    this.statusCode = this.status;
  }
}

/** Wraps a Redis failure, keeping the original as `cause`. */
export function storeError(cause: unknown, action: string): SessionError & UnavailableError {
  return new SessionError('ERR_SESSION_STORE', `Session store failed to ${action}: ${errorMessage(cause)}`, {
    cause,
  }) as SessionError & UnavailableError;
}

/** A failure of a session method as the caller sees it: its own SessionError, or a Redis failure wrapped. */
export function asSessionError(error: unknown, action: string): SessionError {
  return error instanceof SessionError ? error : storeError(error, action);
}
