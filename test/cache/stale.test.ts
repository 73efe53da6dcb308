// Stale-while-revalidate: a stale entry is served at once and refreshed exactly once.
import { Readable } from 'node:stream';
import type { Response } from 'express';

import { describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { listenUntilAfterAll, request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { gate, publicHost, readEntries, sleep, waitFor } from './support.js';

const redis = useTestRedis();
const listen = listenUntilAfterAll();

let names = 0;
const quiet = { warn() {}, error() {} };

function instance(
  express: ExpressFactory,
  name: string,
  handler: (res: Response) => unknown,
  options: Partial<ResponseCacheOptions>,
) {
  const cache = responseCache({
    redis: redis.connect(),
    prefix: redis.prefix('cache:'),
    name,
    logger: quiet,
    ...options,
  });
  const app = express();
  app.use(publicHost);
  app.get('/page', cache, (_req, res) => handler(res));
  return app;
}

describe.each(expressVersions)('%s: stale-while-revalidate', (_label, express) => {
  it.each([
    ['res.json', (res: Response, version: number) => res.json({ version })],
    [
      'a stream of writes',
      (res: Response, version: number) => {
        res.type('application/json');
        res.write('{"version":');
        res.write(String(version));
        res.end('}');
      },
    ],
    [
      'a piped stream',
      (res: Response, version: number) => {
        res.type('application/json');
        Readable.from([Buffer.from('{"version":'), Buffer.from(String(version)), Buffer.from('}')]).pipe(res);
      },
    ],
  ])(
    'serves the stale entry at once on every instance, and refreshes it exactly once (%s)',
    async (_how, send) => {
      const name = `swr${++names}`;
      let version = 1;
      let renders = 0;
      const hold = gate();
      const handler = async (res: Response) => {
        renders++;
        const v = version;
        if (v > 1) await hold.promise;
        send(res, v);
      };
      const options = { ttl: '1s', staleWhileRevalidate: '30s' } as const;
      const [a, b] = await Promise.all([
        listen(instance(express, name, handler, options)),
        listen(instance(express, name, handler, options)),
      ]);
      expect((await request(a).get('/page')).body).toEqual({ version: 1 });
      await sleep(1_500);
      version = 2;
      try {
        // The refresh is held mid-render: every answer below comes from the stale entry, without waiting for it.
        const stale = await Promise.all(
          Array.from({ length: 10 }, (_, i) => request(i % 2 ? a : b).get('/page')),
        );
        for (const res of stale) {
          expect(res.body).toEqual({ version: 1 });
          expect(res.headers['cache-status']).toMatch(
            /^express-redis-kit; fwd=stale; ttl=-\d+; detail=stale-while-revalidate$/,
          );
          expect(Number(res.headers.age)).toBeGreaterThanOrEqual(1);
        }
        await waitFor(() => renders === 2, 'the refresh to start');
        await sleep(100);
        expect(renders).toBe(2);
      } finally {
        hold.open();
      }
      await waitFor(async () => (await request(b).get('/page')).body.version === 2, 'the refreshed entry');
      const fresh = await request(a).get('/page');
      expect(fresh.body).toEqual({ version: 2 });
      expect(fresh.headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=\d+$/);
      expect(renders).toBe(2);
      const [entry] = await readEntries(redis.client, redis.prefix(`cache:${name}:`));
      expect(entry?.swrUntil).toBe((entry?.freshUntil ?? 0) + 30_000);
    },
  );

  it('does not serve stale past the window or for must-revalidate responses', async () => {
    const name = `swr${++names}`;
    let version = 0;
    const url = await listen(
      instance(
        express,
        name,
        (res) => res.set('Cache-Control', 'must-revalidate').json({ version: ++version }),
        {
          ttl: '1s',
          staleWhileRevalidate: '30s',
        },
      ),
    );
    await request(url).get('/page');
    await sleep(1_500);
    const res = await request(url).get('/page');
    expect(res.body).toEqual({ version: 2 });
    expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
  });
});
