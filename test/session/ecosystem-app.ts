// An app written for express-session (Passport, connect-flash, csrf-sync), with the session middleware passed in.
import flash from 'connect-flash';
import { csrfSync } from 'csrf-sync';
import type { Express, Request, RequestHandler } from 'express';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { ExpressFactory } from '../helpers/express.js';
import { answerErrorCode } from './support.js';

interface User {
  id: string;
  name: string;
}

const USERS: readonly (User & { password: string })[] = [
  { id: 'u1', name: 'alice', password: 'wonderland' },
  { id: 'u2', name: 'bob', password: 'builder' },
];

/** Passport set up the way its documentation shows, on an instance of its own per app. */
function createPassport(): passport.PassportStatic {
  const instance = new passport.Passport() as passport.PassportStatic;
  instance.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS.find((u) => u.name === username && u.password === password);
      if (user === undefined) done(null, false, { message: 'Wrong user name or password.' });
      else done(null, { id: user.id, name: user.name });
    }),
  );
  instance.serializeUser((user, done) => done(null, (user as User).id));
  instance.deserializeUser((id: string, done) => {
    const user = USERS.find((u) => u.id === id);
    done(null, user === undefined ? false : { id: user.id, name: user.name });
  });
  return instance;
}

/** Per-session data the app keeps outside Passport (a cart), through `req.session` as express-session types it. */
function sessionData(req: Request): Record<string, unknown> {
  return req.session as unknown as Record<string, unknown>;
}

/**
 * Routes:
 * - `POST /cart?item=x`: puts an item in the session's cart (anonymous data before a sign-in)
 * - `GET /login`: `{ csrf }`, a token for the login form
 * - `POST /login` (`username`, `password`, `_csrf`, `keep=1` for `keepSessionInfo`, `remember=1` for a 30-day
 *   cookie, `device=1` to `signIn` afterwards): Passport's local strategy; redirects to `/` with a flash, or to
 *   `/login-failed` with an error flash
 * - `GET /`: `{ user, cart, flash, sessionID }`; `GET /me`: 401 unless signed in
 * - `GET /form`: `{ csrf }`; `POST /transfer` (`_csrf`): CSRF-protected
 * - `POST /logout` (`keep=1` for `keepSessionInfo`): `req.logout`, redirects to `/` with a flash
 */
export function ecosystemApp(express: ExpressFactory, sessionMiddleware: RequestHandler): Express {
  const auth = createPassport();
  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) => (req.body as Record<string, string | undefined>)._csrf,
  });
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(sessionMiddleware);
  app.use(flash());
  app.use(auth.session());

  app.post('/cart', (req, res) => {
    const data = sessionData(req);
    data.cart = [...((data.cart as string[] | undefined) ?? []), String(req.query.item)];
    res.json({ cart: data.cart });
  });
  app.get('/login', (req, res) => {
    res.json({ csrf: generateToken(req) });
  });
  app.post(
    '/login',
    csrfSynchronisedProtection,
    (req, res, next) => {
      auth.authenticate('local', {
        failureRedirect: '/login-failed',
        failureFlash: true,
        keepSessionInfo: req.body.keep === '1',
      })(req, res, next);
    },
    (req, res, next) => {
      // After Passport's regenerate: a flash set before it (Passport's successFlash) would be dropped with the old session.
      req.flash('success', 'Welcome back!');
      if (req.body.remember === '1') req.session.cookie.maxAge = 30 * 24 * 3600 * 1000;
      // The documented recipe: signIn puts the Passport session on the user's device list.
      const joined = req.body.device === '1' ? req.session.signIn((req.user as User).id) : Promise.resolve();
      joined.then(() => res.redirect('/'), next);
    },
  );
  app.get('/login-failed', (req, res) => {
    res.status(401).json({ flash: req.flash('error') });
  });
  app.get('/', (req, res) => {
    res.json({
      user: req.user ?? null,
      cart: sessionData(req).cart ?? [],
      flash: req.flash('success'),
      info: req.flash('info'),
      sessionID: req.sessionID,
    });
  });
  app.get('/me', (req, res) => {
    if (req.isAuthenticated()) res.json({ user: req.user });
    else res.sendStatus(401);
  });
  app.get('/form', (req, res) => {
    res.json({ csrf: generateToken(req) });
  });
  app.post('/transfer', csrfSynchronisedProtection, (_req, res) => {
    res.json({ ok: true });
  });
  app.post('/logout', (req, res, next) => {
    req.logout({ keepSessionInfo: req.body.keep === '1' }, (error) => {
      if (error) {
        next(error);
        return;
      }
      req.flash('info', 'You are signed out.');
      res.redirect('/');
    });
  });
  app.use(answerErrorCode);
  return app;
}
