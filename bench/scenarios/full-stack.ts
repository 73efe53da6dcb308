// The full stack on a product page (5 ms handler): sessions, page views, rate limit and cache, against the
// peers' stack (express-session + connect-redis, express-rate-limit + rate-limit-redis, apicache-plus).
import apicache from 'apicache-plus';
import { RedisStore as SessionStore } from 'connect-redis';
import express, { type Express, type RequestHandler } from 'express';
import { pageViews, rateLimit, responseCache, session } from 'express-redis-kit';
import expressSession from 'express-session';
import { ioredis, nodeRedis } from '../lib/clients.js';
import type { Scenario, Variant } from '../lib/types.js';
import { CLIENT_HEADER, clientKey, expressRateLimitRedis, LIMIT, WINDOW_MS } from './rate-limit.js';

const SECRET = 'bench-secret-that-is-at-least-32-characters-long';

async function productPage(req: express.Request, res: express.Response): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res
    .type('html')
    .send(
      `<!doctype html><title>Product ${Number(req.params.id)}</title><h1>Product ${Number(req.params.id)}</h1>`,
    );
}

function shop(app: Express, limiter: RequestHandler | undefined, cache: RequestHandler | undefined): Express {
  if (limiter) app.use('/products', limiter);
  app.get('/products/:id', ...(cache ? [cache] : []), productPage);
  return app;
}

const bare: Variant = {
  name: 'bare express',
  kind: 'bare',
  app: () => shop(express(), undefined, undefined),
};

const ours: Variant = {
  name: 'express-redis-kit (session, pageViews, rateLimit, responseCache)',
  kind: 'ours',
  app({ redisUrl, prefix }) {
    const redis = ioredis(redisUrl);
    const app = express();
    app.use(session({ redis, secret: SECRET, prefix: `${prefix}sess:` }));
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
    return shop(app, limiter, cache);
  },
};

const peers: Variant = {
  name: 'express-session + express-rate-limit + apicache-plus',
  kind: 'peer',
  async app({ redisUrl, prefix }) {
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
    return shop(app, limiter, cache);
  },
};

export const fullStack: Scenario = {
  id: 'full-stack',
  title: 'full stack, product page with a 5 ms handler',
  path: '/products/42',
  target: 0.75,
  peerTarget: 1.8,
  variants: [bare, ours, peers],
  rotatingHeader: { name: CLIENT_HEADER, prefix: 'client-', count: 10_000 },
};
