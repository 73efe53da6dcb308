// Sign in, sign out, and "your devices" (the user's sessions, with revoke and revoke-all).
import { type RequestHandler, Router } from 'express';
import type { SessionMiddleware } from 'express-redis-kit';
import { csrfToken } from '../middleware/csrf.js';
import { type SignInLimit, usernameOf } from '../middleware/sign-in-limit.js';
import type { RenderPage } from '../render.js';
import { deviceName, readableIp } from '../shop/devices.js';
import type { Shop } from '../shop/index.js';
import { signInWithCart } from '../shop/session-flows.js';
import { devicesPage, signInPage } from '../views/account.js';

export interface AccountRouteOptions {
  shop: Shop;
  render: RenderPage;
  sessions: SessionMiddleware;
  /** The failed-sign-in limits. */
  signInLimit: SignInLimit;
}

/** Only local paths, so `?next=` cannot send a user to another site after signing in. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(value) ? value : '/';
}

export function accountPages({ shop, render, sessions, signInLimit }: AccountRouteOptions): Router {
  const router = Router();

  router.get('/signin', async (req, res) => {
    await render(req, res, { title: 'Sign in', body: signInPage(csrfToken(req), safeNext(req.query.next)) });
  });

  router.post('/signin', signInLimit.check, async (req, res) => {
    const user = await shop.users.verify(usernameOf(req), String(req.body.password ?? ''));
    const next = safeNext(req.body.next);
    if (!user) {
      await signInLimit.failed(req);
      const body = signInPage(csrfToken(req), next, 'That username and password do not match.');
      await render(req, res, { title: 'Sign in', body, status: 401 });
      return;
    }
    await signInWithCart(req, shop, user);
    req.session.flash = `Welcome back, ${user.name}.`;
    res.redirect(303, next);
  });

  router.post('/signout', async (req, res) => {
    await req.session.signOut();
    req.session.flash = 'You are signed out.';
    res.redirect(303, '/');
  });

  const signedIn: RequestHandler = (req, res, next) => {
    if (req.session.userId) next();
    else res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
  };

  router.get('/account/devices', signedIn, async (req, res) => {
    const rows = await sessions.listForUser(req.session.userId as string, { current: req.session.handle });
    const devices = rows.map((row) => ({
      handle: row.handle,
      name: deviceName(row.userAgent ?? ''),
      userAgent: row.userAgent ?? '',
      ip: readableIp(row.ip ?? ''),
      createdAt: row.createdAt.getTime(),
      lastSeenAt: row.lastSeenAt.getTime(),
      expiresAt: row.expiresAt.getTime(),
      current: row.current,
    }));
    await render(req, res, { title: 'Your devices', body: devicesPage(devices, csrfToken(req)) });
  });

  router.post('/account/devices/revoke', signedIn, async (req, res) => {
    const handle = String(req.body.handle ?? '');
    const revoked =
      handle !== req.session.handle && (await sessions.revoke(req.session.userId as string, handle));
    req.session.flash = revoked ? 'That device is signed out.' : 'That device was already signed out.';
    res.redirect(303, '/account/devices');
  });

  router.post('/account/devices/revoke-all', signedIn, async (req, res) => {
    const count = await sessions.revokeAll(req.session.userId as string, { except: req.session.handle });
    req.session.flash = `Signed out ${count} other device${count === 1 ? '' : 's'}.`;
    res.redirect(303, '/account/devices');
  });

  return router;
}
