// Loading the session a request's cookie names: the one Redis round trip of a returning visitor.
import type { NextFunction } from 'express';
import { errorMessage } from '../core/index.js';
import { storeError } from './errors.js';
import { clearData, loadFields, type Meta } from './fields.js';
import type { SessionController } from './session-controller.js';
import type { ReadReply } from './store.js';
import type { KnownCookie } from './verified-cookies.js';

/**
 * Loads the session a valid cookie names, then continues the chain. Kept free of async functions and of a
 * `.catch` layer (each handler guards its own `next`): this is the hot path, and each promise costs on every
 * request.
 */
export function loadSession(c: SessionController, cookie: KnownCookie, next: NextFunction): void {
  c.hadCookie = true;
  c.id = cookie.id;
  // The cached cookie carries the session's location (key, handle, tag), computed once per cookie.
  c.location = cookie;
  // Signed with the current secret: the same value goes back out, without signing it again.
  if (cookie.keyIndex === 0) c.signed = cookie;
  // With clientSideCaching, a session Redis would not slide and nobody changed is already in memory.
  const copy = c.ctx.store.copyOf(cookie.key);
  if (copy !== undefined) {
    loaded(c, cookie, copy, next);
    return;
  }
  c.ctx.store.readThen(
    cookie.key,
    (reply) => loaded(c, cookie, reply, next),
    (error: unknown) => loadFailed(c, error, next),
  );
}

/** Continues the chain from a Redis reply's callback, where a handler's throw would otherwise go unhandled. */
function proceed(c: SessionController, next: NextFunction, error?: unknown): void {
  try {
    if (error === undefined) next();
    else next(error);
  } catch (thrown) {
    c.ctx.config.logger.error('A request handler threw after the session was loaded', {
      source: 'session',
      error: errorMessage(thrown),
    });
  }
}

function loadFailed(c: SessionController, error: unknown, next: NextFunction): void {
  c.ctx.report(error, 'session load');
  const policy = c.ctx.config.onRedisError;
  c.loadFailed(policy);
  // 'anonymous': the request goes on with an empty session, nothing is written, the cookie is left alone.
  proceed(c, next, policy === 'anonymous' ? undefined : storeError(error, 'load the session'));
}

function loaded(
  c: SessionController,
  cookie: KnownCookie,
  reply: ReadReply,
  next: NextFunction,
): void | Promise<void> {
  if (reply === null) {
    // Expired, revoked or never existed: the visitor starts afresh, and the stale cookie is cleared.
    c.detach(true);
    proceed(c, next);
    return;
  }
  const saved = new Map<string, string>();
  const meta = loadFields(reply[2], c.object, saved);
  if (c.ctx.config.bind !== undefined && meta['@b'] !== undefined && meta['@b'] !== c.bindValue()) {
    return unbind(c, cookie, meta, next);
  }
  c.loaded(saved, meta);
  // A slide moved the server's expiry, and a cookie signed by an old secret is re-signed: both need Set-Cookie.
  if (reply[1] === 1 || cookie.keyIndex > 0) c.cookieTtl = Number(reply[0]);
  proceed(c, next);
}

/** The session was made by another client (binding mismatch): end it, and go on without it. */
async function unbind(
  c: SessionController,
  cookie: KnownCookie,
  meta: Meta,
  next: NextFunction,
): Promise<void> {
  c.ctx.config.logger.warn('Session binding mismatch: the session was ended', {
    source: 'session',
    handle: cookie.handle,
    userId: meta['@u'],
  });
  clearData(c.object, false);
  c.detach(true);
  try {
    await c.ctx.store.end(cookie);
  } catch (error) {
    c.ctx.report(error, 'session bind check');
  }
  proceed(c, next);
}
