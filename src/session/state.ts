// Where one request's session stands with Redis: one value, changed only by the controller's named transitions.

/**
 * - `new`: nothing in Redis: a first visit, or a session that ended on this request. Stored once it holds data.
 * - `stored`: in Redis (or its creation, started with the response headers, is under way).
 * - `write-failed`: stored, but a write that went with the response failed: nothing more is written.
 * - `unconfirmed`: a valid cookie came in but Redis could not be asked (`onRedisError: 'anonymous'`), so the
 *   session may exist. Nothing is written and no cookie is sent, unless a session method succeeds.
 * - `unsaved`: Redis failed on this request before the session was known (`'fail-closed'` passed the error on,
 *   or an unconfirmed session turned out to be gone). Nothing is written, unless a session method succeeds.
 */
export type SessionState = 'new' | 'stored' | 'write-failed' | 'unconfirmed' | 'unsaved';

/** The session is in Redis as far as this request knows. */
export function isStored(state: SessionState): boolean {
  return state === 'stored' || state === 'write-failed';
}

/** A session named by the cookie may be in Redis: ending or replacing it must reach Redis. */
export function mayBeStored(state: SessionState): boolean {
  return state === 'stored' || state === 'write-failed' || state === 'unconfirmed';
}

/** Redis failed while loading: the response writes nothing and sends no cookie. */
export function isUnloaded(state: SessionState): boolean {
  return state === 'unconfirmed' || state === 'unsaved';
}
