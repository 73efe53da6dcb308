// The sessions middleware: factory, options and public types.
import type { NextFunction, Request, Response } from 'express';
import { assertNotInRequestHandler, followResponse, hooksOf, requestValue } from '../core/index.js';
import { createErrorReporter } from '../redis/index.js';
import { createAdmin, type SessionAdmin } from './admin.js';
import { loadSession } from './load.js';
import { resolveOptions, type SessionOptions } from './options.js';
import { type SessionContext, SessionController } from './session-controller.js';
import { installSessionId } from './session-id.js';
import { SessionStore } from './store.js';
import { VerifiedCookies } from './verified-cookies.js';

export type { ListSessionsOptions, RevokeAllOptions, SessionAdmin } from './admin.js';
export { SessionError, type SessionErrorCode } from './errors.js';
export {
  type ClientSideCachingOptions,
  DEFAULT_SESSION_OPTIONS,
  type SessionBind,
  type SessionCookieOptions,
  type SessionOptions,
  type SessionRedisErrorPolicy,
} from './options.js';
export type {
  KeepOptions,
  Session,
  SessionCallback,
  SessionCookie,
  SessionData,
  SessionInfo,
  SessionMethods,
  SignInOptions,
} from './types.js';

/** The middleware `session()` returns, with the admin methods attached. */
export interface SessionMiddleware extends SessionAdmin {
  (req: Request, res: Response, next: NextFunction): void;
  /**
   * Closes the two connections `clientSideCaching` opens (nothing to close without it). The client passed as
   * `redis` stays yours to close.
   */
  close(): Promise<void>;
}

/**
 * Redis-backed sessions: a signed cookie holding only a random id, one Redis round trip per request that
 * reads the session and slides its idle timeout, field-level writes that never bring back a session ended
 * meanwhile, sign-in with a fresh id, and a per-user device list with revocation that works on Redis Cluster.
 *
 * @example
 * ```ts
 * const sessions = session({ redis, secret: process.env.SESSION_SECRETS!.split(',') });
 * app.use(sessions);
 * app.post('/login', async (req, res) => {
 *   const user = await checkPassword(req.body);
 *   await req.session.signIn(user.id);
 *   res.redirect('/');
 * });
 * app.get('/devices', async (req, res) => {
 *   res.json(await sessions.listForUser(req.session.userId!, { current: req.session.handle }));
 * });
 * ```
 */
export function session(options: SessionOptions): SessionMiddleware {
  const config = resolveOptions(options);
  assertNotInRequestHandler('session');
  installSessionId();
  const store = new SessionStore(config);
  const ctx: SessionContext = {
    config,
    store,
    report: createErrorReporter(config.logger),
    reqSession: requestValue<unknown>('session'),
    warnedLateData: false,
  };
  const { cookieName, signKeys } = config;
  const cookies = new VerifiedCookies(signKeys, (handle, tag) => store.sessionKey(handle, tag));

  function sessionMiddleware(req: Request, res: Response, next: NextFunction): void {
    // Mounted twice on one path (app and router): the first one already did the work.
    if (isFollowedBy(res, ctx)) {
      next();
      return;
    }
    const controller = new SessionController(ctx, req, res);
    ctx.reqSession.set(req, controller.object);
    followResponse(res, controller);
    const cookie = cookies.find(req, cookieName);
    if (cookie === undefined) {
      next();
      return;
    }
    loadSession(controller, cookie, next);
  }

  return Object.assign(sessionMiddleware, createAdmin(config, store), { close: () => store.close() });
}

/** Whether a request of this middleware already follows the response (the state is kept off `res`: see core). */
function isFollowedBy(res: Response, ctx: SessionContext): boolean {
  for (let h = hooksOf(res); h !== undefined; h = h.nextHooks) {
    if (h instanceof SessionController && h.ctx === ctx) return true;
  }
  return false;
}
