// Cross-site request forgery protection: a per-session token on forms, and same-origin checks everywhere.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { RenderPage } from '../render.js';
import { forbiddenPage } from '../views/errors.js';

/** The session's token, created on first use (which makes the session worth storing). */
export function csrfToken(req: Request): string {
  req.session.csrf ??= randomBytes(24).toString('base64url');
  return req.session.csrf;
}

/** The token to put in a page's forms: '' for a visitor without a session, so viewing stores nothing. */
export function csrfForPage(req: Request): string {
  return req.session.isNew && req.session.csrf === undefined ? '' : csrfToken(req);
}

/** True when the browser says the request comes from another site (Sec-Fetch-Site or Origin). */
export function isCrossSite(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.get('origin');
  if (origin === undefined) return false;
  return origin !== `${req.protocol}://${req.get('host')}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Form posts: refused from another site, and, once the visitor has a session, refused without that session's
 * token. A visitor without a session has nothing to forge a request with; their first post starts one.
 */
export function verifyCsrf(render: RenderPage): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const refuse = (reason: string) =>
      render(req, res, { title: 'Not allowed', body: forbiddenPage(reason), status: 403 }).catch(next);
    if (isCrossSite(req)) return void refuse('This form was sent from another site, so it was not accepted.');
    const expected = req.session.csrf;
    if (expected === undefined && req.session.isNew) return next();
    const sent = typeof req.body?._csrf === 'string' ? Buffer.from(req.body._csrf) : Buffer.alloc(0);
    const wanted = Buffer.from(expected ?? '');
    if (wanted.length === 0 || sent.length !== wanted.length || !timingSafeEqual(sent, wanted)) {
      return void refuse('This form has expired. Go back, reload the page and try again.');
    }
    next();
  };
}
