// On their hot paths the middlewares add one property to Express's request (their shared context, under a
// Symbol) and none to the response: each property added costs V8 a copy of the object's hidden class. Yet
// `req.session`, `req.rateLimit` and `req.responseCache` read as before, and other packages can still assign them.
import type { Express, NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { CONTEXT } from '../../src/core/request-context.js';
import { pageViews, rateLimit, responseCache, session } from '../../src/index.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { BROWSER_UA, listenUntilAfterAll } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { SECRET } from '../session/support.js';

const redis = useTestRedis();
const serve = listenUntilAfterAll();

/** The own properties Express's request and response gain between the first middleware and the response's end. */
interface Added {
  req: Set<string | symbol>;
  res: Set<string | symbol>;
}

/** A first middleware that records what the rest of the chain adds to `req` and `res`, per request path. */
function recordAdded(added: Map<string, Added>) {
  return (req: Request, res: Response, next: NextFunction) => {
    const reqBefore = new Set(Reflect.ownKeys(req));
    const resBefore = new Set(Reflect.ownKeys(res));
    const path = req.path;
    res.on('finish', () => {
      const entry = added.get(path) ?? { req: new Set(), res: new Set() };
      for (const key of Reflect.ownKeys(req)) if (!reqBefore.has(key)) entry.req.add(key);
      for (const key of Reflect.ownKeys(res)) if (!resBefore.has(key)) entry.res.add(key);
      added.set(path, entry);
    });
    next();
  };
}

function routes(app: Express): Express {
  // The same routes serve the bare app, which has no session.
  app.post('/sign-in', (req, res, next) => {
    const signingIn = req.session === undefined ? Promise.resolve() : req.session.signIn('alice');
    signingIn.then(() => res.send('ok'), next);
  });
  app.get('/read', (req, res) => {
    res.type('html').send(`<p>${String(req.session?.isNew)} ${String(req.rateLimit?.remaining)}</p>`);
  });
  app.post('/write', (req, res) => {
    const data = (req.session ?? {}) as unknown as Record<string, number>;
    data.visits = (data.visits ?? 0) + 1;
    res.send(`visits ${data.visits}`);
  });
  app.get('/public', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').type('html').send('<p>public</p>');
  });
  return app;
}

async function visit(express: ExpressFactory, withMiddlewares: boolean, prefix: string) {
  const added = new Map<string, Added>();
  const app = express();
  app.use(recordAdded(added));
  if (withMiddlewares) {
    const client = redis.client;
    app.use(session({ redis: client, secret: SECRET, prefix: `${prefix}sess:` }));
    app.use(rateLimit({ redis: client, name: 'own', limit: 100, window: '1m', prefix: `${prefix}rl:` }));
    app.use(pageViews({ redis: client, prefix: `${prefix}pv:`, secret: SECRET }));
    app.use('/public', responseCache({ redis: client, prefix: `${prefix}cache:`, ttl: '1m' }));
  }
  const url = await serve(routes(app) as Express);
  const headers = { 'user-agent': BROWSER_UA };
  // The public page twice (a miss, then a hit), without credentials.
  const first = await fetch(`${url}/public`, { headers });
  await first.text();
  const hit = await fetch(`${url}/public`, { headers });
  expect(await hit.text()).toBe('<p>public</p>');
  if (withMiddlewares)
    expect(hit.headers.get('x-cache') ?? hit.headers.get('cache-status') ?? '').toMatch(/hit/i);
  added.clear();
  const hitAgain = await fetch(`${url}/public`, { headers });
  await hitAgain.text();
  const signIn = await fetch(`${url}/sign-in`, { method: 'POST', headers });
  await signIn.text();
  const cookie = signIn.headers.getSetCookie()[0]?.split(';')[0];
  const signedIn = cookie === undefined ? headers : { ...headers, cookie };
  const read = await fetch(`${url}/read`, { headers: signedIn });
  const readBody = await read.text();
  const write = await fetch(`${url}/write`, { method: 'POST', headers: signedIn });
  const writeBody = await write.text();
  return { added, readBody, writeBody };
}

describe.each(expressVersions)('own properties on %s', (name, express) => {
  it('a session read and write, a rate-limit check, a counted view and a cache hit add one property to req, none to res', async () => {
    const prefix = `own:${name.replace(' ', '')}:`;
    const bare = await visit(express, false, `${prefix}bare:`);
    const ours = await visit(express, true, prefix);
    // The middlewares did their work: a stored session, a limit (fifth request of the client), then the write.
    expect(ours.readBody).toBe('<p>false 95</p>');
    expect(ours.writeBody).toBe('visits 1');
    for (const path of ['/public', '/read', '/write']) {
      const oursAdded = ours.added.get(path);
      const bareAdded = bare.added.get(path);
      expect(oursAdded, path).toBeDefined();
      const extraReq = [...(oursAdded?.req ?? [])].filter((key) => !bareAdded?.req.has(key));
      const extraRes = [...(oursAdded?.res ?? [])].filter((key) => !bareAdded?.res.has(key));
      expect({ path, req: extraReq.map(String), res: extraRes.map(String) }).toEqual({
        path,
        req: [String(CONTEXT)],
        res: [],
      });
    }
  });
});

describe('the request properties stay assignable', () => {
  it('another package assigning req.session, req.rateLimit or req.responseCache wins on that request', async () => {
    const app = express5App();
    app.use(session({ redis: redis.client, secret: SECRET, prefix: 'own:assign:sess:' }));
    app.use(
      rateLimit({ redis: redis.client, name: 'assign', limit: 10, window: '1m', prefix: 'own:assign:rl:' }),
    );
    app.use((req, _res, next) => {
      if (req.query.replace !== undefined) {
        (req as unknown as Record<string, unknown>).session = { replaced: true };
        (req as unknown as Record<string, unknown>).rateLimit = 'mine';
        (req as unknown as Record<string, unknown>).responseCache = 'mine too';
      }
      next();
    });
    app.get('/', (req, res) => {
      res.json({
        session: 'replaced' in req.session ? 'replaced' : 'ours',
        rateLimit: typeof req.rateLimit === 'string' ? req.rateLimit : 'ours',
        responseCache: req.responseCache ?? null,
        ownSession: Object.hasOwn(req, 'session'),
      });
    });
    const url = await serve(app);
    const plain = await (await fetch(`${url}/`)).json();
    expect(plain).toEqual({ session: 'ours', rateLimit: 'ours', responseCache: null, ownSession: false });
    const replaced = await (await fetch(`${url}/?replace`)).json();
    expect(replaced).toEqual({
      session: 'replaced',
      rateLimit: 'mine',
      responseCache: 'mine too',
      ownSession: true,
    });
  });
});

function express5App(): Express {
  const [, express] = expressVersions[1] as readonly [string, ExpressFactory];
  return express() as Express;
}
