// The full stack: sessions, page views, rate limit and cache, against the peers' stack (express-session +
// connect-redis, express-rate-limit + rate-limit-redis, apicache-plus; no peer package counts page views). Two
// pages: a product page whose handler takes 5 ms (anonymous visitors, shared cache entry), and a signed-in
// visitor's trivial account page cached per user, where the middlewares' own cost is all there is.
import apicache from 'apicache-plus';
import { RedisStore as SessionStore } from 'connect-redis';
import express, { type Express, type RequestHandler } from 'express';
import { pageViews, rateLimit, responseCache, session } from 'express-redis-kit';
import expressSession from 'express-session';
import { ioredis, nodeRedis } from '../lib/clients.js';
import { floorVariant } from '../lib/floor.js';
import type { Scenario, Variant, VariantContext } from '../lib/types.js';
import { CLIENT_HEADER, clientKey, expressRateLimitRedis, LIMIT, WINDOW_MS } from './rate-limit.js';

const SECRET = 'bench-secret-that-is-at-least-32-characters-long';
const USER_ID = 'bench-user';

/** How each stack reads and signs in the user (the session APIs differ). */
interface Signing {
  signIn(req: express.Request): Promise<void>;
  userId(req: express.Request): string | undefined;
}

/** The middlewares of one stack, mounted by {@link shop} the same way for every variant. */
interface Stack {
  limiter?: RequestHandler;
  /** The product pages' cache (shared entries). */
  cache?: RequestHandler;
  /** The account page's cache (one entry per user). */
  accountCache?: RequestHandler;
  signing?: Signing;
}

async function productPage(req: express.Request, res: express.Response): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res
    .type('html')
    .send(
      `<!doctype html><title>Product ${Number(req.params.id)}</title><h1>Product ${Number(req.params.id)}</h1>`,
    );
}

function accountPage(_req: express.Request, res: express.Response): void {
  res.type('html').send('<!doctype html><title>Your account</title><h1>Your account</h1>');
}

/** The session's field on the peers' stack (express-session keeps whatever the app puts there). */
interface PeerSession {
  userId?: string;
}

const peerSigning: Signing = {
  async signIn(req) {
    (req as unknown as { session: PeerSession }).session.userId = USER_ID;
  },
  userId: (req) => (req as unknown as { session?: PeerSession }).session?.userId,
};

const oursSigning: Signing = {
  signIn: (req) => req.session.signIn(USER_ID),
  userId: (req) => req.session.userId,
};

function shop(app: Express, { limiter, cache, accountCache, signing }: Stack): Express {
  app.post('/login', async (req, res) => {
    await signing?.signIn(req);
    res.send('ok');
  });
  if (limiter) {
    app.use('/products', limiter);
    app.use('/account', limiter);
  }
  app.get('/products/:id', ...(cache ? [cache] : []), productPage);
  app.get('/account', ...(accountCache ? [accountCache] : []), accountPage);
  return app;
}

const bare: Variant = { name: 'bare express', kind: 'bare', app: () => shop(express(), {}) };

/**
 * Our stack; `fromMemory` serves returning visitors' sessions (between two slides) and fresh account pages
 * from memory, both kept coherent by Redis (`clientSideCaching`).
 */
function oursStack(name: string, fromMemory: boolean): Variant {
  return {
    name,
    kind: 'ours',
    app: (context) => ourShop(context, fromMemory),
  };
}

function ourShop({ redisUrl, prefix }: VariantContext, fromMemory: boolean): Express {
  const redis = ioredis(redisUrl);
  const app = express();
  const sessionCaching = fromMemory ? ({ touchAfter: '1m', clientSideCaching: true } as const) : {};
  app.use(session({ redis, secret: SECRET, prefix: `${prefix}sess:`, ...sessionCaching }));
  app.use(pageViews({ redis, secret: SECRET, prefix: `${prefix}pv:` }));
  const limiter = rateLimit({
    redis,
    name: 'api',
    limit: LIMIT,
    window: WINDOW_MS,
    key: clientKey,
    prefix: `${prefix}rl:`,
  });
  const cache = responseCache({ redis, name: 'pages', ttl: '5m', prefix: `${prefix}cache:` });
  // Signed-in visitors carry a session cookie: their pages are cached per user.
  const accountCache = responseCache({
    redis,
    name: 'account',
    ttl: '5m',
    prefix: `${prefix}cache:`,
    privateScope: (req) => req.session.userId,
    clientSideCaching: fromMemory,
  });
  return shop(app, { limiter, cache, accountCache, signing: oursSigning });
}

const ours = oursStack('express-redis-kit (session, pageViews, rateLimit, responseCache)', false);
const oursFromMemory = oursStack(
  'express-redis-kit, sessions and pages from memory (clientSideCaching)',
  true,
);

const peers: Variant = {
  name: 'express-session + express-rate-limit + apicache-plus',
  kind: 'peer',
  async app({ redisUrl, prefix }: VariantContext) {
    const redis = ioredis(redisUrl);
    const app = express();
    app.use(
      expressSession({
        store: new SessionStore({ client: await nodeRedis(redisUrl), prefix: `${prefix}sess:` }),
        secret: SECRET,
        resave: false,
        rolling: true,
        saveUninitialized: false,
      }) as RequestHandler,
    );
    const limiter = expressRateLimitRedis(redis, `${prefix}rl:`);
    const cache = apicache
      .newInstance({ redisClient: redis, defaultDuration: '5 minutes' })
      .middleware('5 minutes');
    // apicache's per-user entries: the user id is appended to the URL's key.
    const accountCache = apicache
      .newInstance({
        redisClient: redis,
        defaultDuration: '5 minutes',
        append: (req: express.Request) => peerSigning.userId(req),
      })
      .middleware('5 minutes');
    return shop(app, { limiter, cache, accountCache, signing: peerSigning });
  },
};

export const fullStack: Scenario = {
  id: 'full-stack',
  title: 'full stack, product page with a 5 ms handler',
  path: '/products/42',
  goal: 0.75,
  peerGoal: 1.8,
  variants: [bare, ours, peers],
  rotatingHeader: { name: CLIENT_HEADER, prefix: 'client-', count: 10_000 },
};

async function signIn(baseUrl: string): Promise<Record<string, string>> {
  const response = await fetch(`${baseUrl}/login`, { method: 'POST' });
  const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]);
  return cookie.length > 0 ? { cookie: cookie.join('; ') } : {};
}

export const fullStackTrivial: Scenario = {
  id: 'full-stack-trivial',
  title: 'full stack, signed-in visitor, trivial handler cached per user',
  path: '/account',
  goal: 0.75,
  peerGoal: 1.8,
  variants: [
    bare,
    ours,
    oursFromMemory,
    peers,
    floorVariant((app, middleware) => shop(app, { limiter: middleware })),
  ],
  prepare: signIn,
  rotatingHeader: { name: CLIENT_HEADER, prefix: 'client-', count: 10_000 },
};
