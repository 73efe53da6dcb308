// responseCache clientSideCaching: fresh entries served from process memory, kept coherent by Redis. Every way
// an entry stops being right (a tag invalidation here or on another instance, an unsafe request, expiry, a
// DEL by hand, a lost connection) ends serving it from memory; a user's private entry never reaches another.
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseCache } from '../../src/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { sleep, waitFor } from './support.js';

const counting = useCountingServer();

describe.each(expressVersions)('%s', (name, express) => {
  const prefix = `ccsc${name.replace(/\D/g, '')}:`;
  let renders = 0;
  let caches: ReturnType<typeof responseCache>[] = [];

  /** An app server with its own connection and its own copies. */
  function server(): { app: Express; cache: ReturnType<typeof responseCache> } {
    const cache = responseCache({
      redis: counting.connect(),
      name: 'pages',
      prefix,
      ttl: '2s',
      tags: (req) => [`page:${req.path}`],
      privateScope: (req) => req.get('x-user') ?? undefined,
      clientSideCaching: true,
    });
    caches.push(cache);
    const app = express();
    app.get('/page/:id', cache, (req, res) => {
      renders += 1;
      res.json({ id: req.params.id, user: req.get('x-user') ?? null, render: renders });
    });
    app.post('/page/:id', cache, (_req, res) => {
      res.status(204).end();
    });
    return { app, cache };
  }

  let here: ReturnType<typeof server>;
  let elsewhere: ReturnType<typeof server>;

  beforeAll(async () => {
    here = server();
    elsewhere = server();
    await sleep(100);
  });
  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    caches = [];
  });

  /** Renders the page, then reads it until this instance answers it from memory (no Redis command). */
  async function cached(path: string, user?: string): Promise<number> {
    const get = () => {
      const r = request(here.app).get(path);
      return user === undefined ? r : r.set('x-user', user);
    };
    const first = (await get()).body.render as number;
    // The entry is stored after the response; a hit read from Redis then keeps the copy (a copy can also be
    // dropped by the invalidation of the store itself, arriving late: the next hit keeps it again).
    await waitFor(
      async () => {
        const { result, commands } = await counting.count(() => get());
        return result.body.render === first && commands.length === 0;
      },
      'the entry to be served from memory',
      2_000,
    );
    return first;
  }

  it('serves a fresh entry from memory: no Redis command, the same body', async () => {
    const render = await cached('/page/1');
    for (let i = 0; i < 3; i++) {
      const { result, commands } = await counting.count(() => request(here.app).get('/page/1'));
      expect(result.body.render).toBe(render);
      expect(commands).toEqual([]);
    }
  });

  it('attack: a private entry kept for one user is never served to another', async () => {
    const alice = await cached('/page/2', 'alice');
    const mallory = await request(here.app).get('/page/2').set('x-user', 'mallory');
    expect(mallory.body.user).toBe('mallory');
    expect(mallory.body.render).not.toBe(alice);
    const anonymous = await request(here.app).get('/page/2');
    expect(anonymous.body.user).toBeNull();
  });

  it('invalidate() here ends the copy before it resolves', async () => {
    const render = await cached('/page/3');
    await here.cache.invalidate('page:/page/3');
    expect((await request(here.app).get('/page/3')).body.render).not.toBe(render);
  });

  it('invalidate() on another instance ends the copy here once Redis says so', async () => {
    const render = await cached('/page/4');
    await elsewhere.cache.invalidate('page:/page/4');
    await waitFor(
      async () => (await request(here.app).get('/page/4')).body.render !== render,
      'the copy to go',
      250,
    );
  });

  it('an unsafe request here ends the copy at once', async () => {
    const render = await cached('/page/5');
    await request(here.app).post('/page/5');
    expect((await request(here.app).get('/page/5')).body.render).not.toBe(render);
  });

  it('is never served past its freshness', async () => {
    const render = await cached('/page/6');
    await sleep(2_100);
    expect((await request(here.app).get('/page/6')).body.render).not.toBe(render);
  });

  it('drops every copy when the invalidation connection is lost', async () => {
    await cached('/page/7');
    await counting.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const { commands } = await counting.count(() => request(here.app).get('/page/7'));
    expect(commands.filter((c) => c[0] === 'get')).toHaveLength(1);
  });
});

describe('clientSideCaching options', () => {
  it('takes true, false or { maxBytes }', () => {
    const base = { redis: counting.client, name: 'opts', ttl: '1m' } as const;
    expect(configErrorCode(() => responseCache({ ...base, clientSideCaching: { maxBytes: 0 } }))).toBe(
      'ERR_OPTION_RANGE',
    );
    expect(
      configErrorCode(() => responseCache({ ...base, clientSideCaching: { maxEntries: 5 } as never })),
    ).toBe('ERR_OPTION_UNKNOWN');
  });
});
