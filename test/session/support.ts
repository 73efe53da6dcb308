// A small Express app around the sessions middleware, shared by the session test files.
import { createHash } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import type { Session, SessionMiddleware } from '../../src/index.js';
import type { ExpressFactory } from '../helpers/express.js';

/** The session's data as a plain record (tests use keys of their own, not a merged SessionData). */
export function data(req: Request): Record<string, unknown> {
  return req.session as unknown as Record<string, unknown>;
}

/** What GET /state answers. */
export interface SessionState {
  data: Record<string, unknown>;
  userId: string | null;
  handle: string;
  isNew: boolean;
}

function stateOf(session: Session): SessionState {
  return {
    data: { ...session },
    userId: session.userId ?? null,
    handle: session.handle,
    isNew: session.isNew,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Routes:
 * - `GET /state`: the session (read-only)
 * - `POST /set?k=v&...&wait=ms`: sets each query key (JSON values when they parse), after `wait` ms
 * - `POST /unset?k`: deletes keys
 * - `POST /sign-in/:user?keep=a,b|true|false&wait=ms`, `POST /sign-out`, `POST /regenerate`, `POST /destroy`
 * - `GET /devices/:user`: `listForUser` with the current handle
 * Errors answer `{ error: code }` with the error's status.
 */
export function sessionApp(express: ExpressFactory, sessions: SessionMiddleware): Express {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use(sessions);
  app.get('/state', (req, res) => {
    res.json(stateOf(req.session));
  });
  app.post(
    '/set',
    wrap(async (req, res) => {
      const { wait, ...values } = req.query as Record<string, string>;
      if (wait) await sleep(Number(wait));
      for (const [key, raw] of Object.entries(values)) data(req)[key] = parse(raw);
      res.json(stateOf(req.session));
    }),
  );
  app.post('/unset', (req, res) => {
    for (const key of Object.keys(req.query)) delete data(req)[key];
    res.json(stateOf(req.session));
  });
  app.post(
    '/sign-in/:user',
    wrap(async (req, res) => {
      if (req.query.wait) await sleep(Number(req.query.wait));
      await req.session.signIn(req.params.user as string, { keep: keepOf(req.query.keep) });
      res.json(stateOf(req.session));
    }),
  );
  app.post(
    '/sign-out',
    wrap(async (req, res) => {
      await req.session.signOut();
      res.json(stateOf(req.session));
    }),
  );
  app.post(
    '/regenerate',
    wrap(async (req, res) => {
      await req.session.regenerate({ keep: keepOf(req.query.keep) });
      res.json(stateOf(req.session));
    }),
  );
  app.post(
    '/destroy',
    wrap(async (req, res) => {
      await req.session.destroy();
      res.json(stateOf(req.session));
    }),
  );
  app.get(
    '/devices/:user',
    wrap(async (req, res) => {
      res.json(await sessions.listForUser(req.params.user as string, { current: req.session.handle }));
    }),
  );
  app.use(answerErrorCode);
  return app;
}

/** An error handler that answers `{ error: code }` (or the message) with the error's status, else 500. */
export function answerErrorCode(
  error: Error & { status?: number; code?: string },
  _req: Request,
  res: Response,
  _next: NextFunction,
): void {
  res.status(error.status ?? 500).json({ error: error.code ?? error.message });
}

/** Express 4 ignores a rejected handler promise: pass it to `next` (Express 5 does this itself). */
export function wrap(
  handler: (req: Request, res: Response) => Promise<void>,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    handler(req, res).catch(next);
  };
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function keepOf(value: unknown): boolean | string[] | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  return String(value).split(',');
}

/** The `sid=...` pair of a response's Set-Cookie for `name`, or undefined. */
export function cookieOf(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  const all = res.headers['set-cookie'] as string[] | undefined;
  return all?.find((c) => c.startsWith(`${name}=`));
}

/** The Max-Age of the session cookie in a response, or undefined. */
export function maxAgeOf(res: { headers: Record<string, unknown> }, name = 'sid'): number | undefined {
  const cookie = cookieOf(res, name);
  const match = cookie && /Max-Age=(\d+)/.exec(cookie);
  return match ? Number(match[1]) : undefined;
}

/** The cookie value (`<id>.<signature>`) of a response's session cookie. */
export function cookieValue(res: { headers: Record<string, unknown> }, name = 'sid'): string | undefined {
  return cookieOf(res, name)
    ?.split(';')[0]
    ?.slice(name.length + 1);
}

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const OLD_SECRET = 'old-secret-0123456789-abcdefghijklmnopq';
export { sleep };

/** The Redis key of the session a cookie value names (mirrors the documented key schema). */
export function keyOf(prefix: string, value: string): string {
  const id = value.slice(0, value.lastIndexOf('.'));
  const hash = createHash('sha256').update(id).digest('base64url');
  return id.length === 55 ? `${prefix}{${id.slice(0, 22)}}:${hash}` : `${prefix}${hash}`;
}
