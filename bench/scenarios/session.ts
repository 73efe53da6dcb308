// Session scenarios: a returning visitor reading its session, and one changing a field on every request.
import { RedisStore } from 'connect-redis';
import express, { type Express, type RequestHandler } from 'express';
import { session } from 'express-redis-kit';
import expressSession from 'express-session';
import { ioredis, nodeRedis } from '../lib/clients.js';
import { floorVariant } from '../lib/floor.js';
import type { Scenario, Variant, VariantContext } from '../lib/types.js';

const SECRET = 'bench-secret-that-is-at-least-32-characters-long';

/** Reads and writes a `name` and a `counter` the same way whatever the session middleware. */
interface BenchSession {
  name?: string;
  counter?: number;
}

function routes(app: Express): Express {
  app.post('/login', (req, res) => {
    const session = (req as { session?: BenchSession }).session;
    if (session) session.name = 'bench';
    res.send('ok');
  });
  app.get('/read', (req, res) => {
    const session = (req as { session?: BenchSession }).session;
    res.send(`hello ${session?.name ?? 'anonymous'}`);
  });
  let bareCounter = 0;
  app.get('/write', (req, res) => {
    const session = (req as { session?: BenchSession }).session;
    if (session) session.counter = (session.counter ?? 0) + 1;
    else bareCounter += 1;
    res.send(`count ${session?.counter ?? bareCounter}`);
  });
  return app;
}

const bare: Variant = { name: 'bare express', kind: 'bare', app: () => routes(express()) };

const ours: Variant = {
  name: 'express-redis-kit session',
  kind: 'ours',
  app({ redisUrl, prefix }: VariantContext) {
    const app = express();
    app.use(session({ redis: ioredis(redisUrl), secret: SECRET, prefix, idleTimeout: '30m' }));
    return routes(app);
  },
};

/** The same, serving returning visitors from memory between two slides (one a minute). */
const oursFromMemory: Variant = {
  name: 'express-redis-kit session, clientSideCaching',
  kind: 'ours',
  app({ redisUrl, prefix }: VariantContext) {
    const app = express();
    app.use(
      session({
        redis: ioredis(redisUrl),
        secret: SECRET,
        prefix,
        idleTimeout: '30m',
        touchAfter: '1m',
        clientSideCaching: true,
      }),
    );
    return routes(app);
  },
};

const expressSessionConnectRedis: Variant = {
  name: 'express-session + connect-redis',
  kind: 'peer',
  async app({ redisUrl, prefix }: VariantContext) {
    const client = await nodeRedis(redisUrl);
    const app = express();
    app.use(
      expressSession({
        store: new RedisStore({ client, prefix }),
        secret: SECRET,
        resave: false,
        rolling: true,
        saveUninitialized: false,
        cookie: { maxAge: 30 * 60_000, httpOnly: true, sameSite: 'lax' },
      }) as RequestHandler,
    );
    return routes(app);
  },
};

async function signIn(baseUrl: string): Promise<Record<string, string>> {
  const response = await fetch(`${baseUrl}/login`, { method: 'POST' });
  const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]);
  return cookie.length > 0 ? { cookie: cookie.join('; ') } : {};
}

export const sessionRead: Scenario = {
  id: 'session-read',
  title: 'session read (returning visitor, read-only)',
  path: '/read',
  goal: 0.85,
  variants: [
    bare,
    ours,
    oursFromMemory,
    expressSessionConnectRedis,
    floorVariant((app, middleware) => routes(app.use(middleware))),
  ],
  prepare: signIn,
};

export const sessionWrite: Scenario = {
  id: 'session-write',
  title: 'session write (one field changes per request)',
  path: '/write',
  goal: 0.8,
  variants: [
    bare,
    ours,
    expressSessionConnectRedis,
    floorVariant((app, middleware) => routes(app.use(middleware))),
  ],
  prepare: signIn,
};
