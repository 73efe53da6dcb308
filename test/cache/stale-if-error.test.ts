// Stale-if-error: the stale entry answers instead of a 5xx or a thrown handler.
import type { Response } from 'express';

import { describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { listenUntilAfterAll, request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { sleep } from './support.js';

const redis = useTestRedis();
const listen = listenUntilAfterAll();

let names = 0;
const quiet = { warn() {}, error() {} };

describe.each(expressVersions)('%s: stale-if-error', (_label, express) => {
  function failing(name: string, options: Partial<ResponseCacheOptions> = {}) {
    const mode = { value: 'ok' as 'ok' | '500' | 'throw' | 'reject' };
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name,
      ttl: '1s',
      staleIfError: '30s',
      logger: quiet,
      ...options,
    });
    const app = express();
    app.get('/page', cache, (_req, res, next) => {
      if (mode.value === 'throw') throw new Error('boom');
      if (mode.value === 'reject') {
        Promise.reject(new Error('async boom')).catch(next);
        return;
      }
      if (mode.value === '500') {
        res.set('X-Error', 'db down').status(503).send('Service Unavailable');
        return;
      }
      res.set('X-Version', 'good').send('good page');
    });
    app.use((error: Error, _req: unknown, res: Response, _next: unknown) => {
      res.status(500).set('X-Error', 'yes').type('text/plain').send(`error: ${error.message}`);
    });
    return { app, mode };
  }

  it('serves the stale entry instead of a 5xx answer or a thrown handler, within the window', async () => {
    const t = failing(`sie${++names}`);
    const url = await listen(t.app);
    expect((await request(url).get('/page')).text).toBe('good page');
    await sleep(1_500);
    t.mode.value = '500';
    const onError = await request(url).get('/page');
    expect(onError.status).toBe(200);
    expect(onError.text).toBe('good page');
    expect(onError.headers['x-version']).toBe('good');
    expect(onError.headers['x-error']).toBeUndefined();
    expect(onError.headers['cache-status']).toMatch(
      /^express-redis-kit; fwd=stale; fwd-status=503; ttl=-\d+; detail=stale-if-error$/,
    );
    const validated = await request(url)
      .get('/page')
      .set('If-None-Match', onError.headers.etag as string);
    expect(validated.status).toBe(304);
    t.mode.value = 'throw';
    const thrown = await request(url).get('/page');
    expect([thrown.status, thrown.text]).toEqual([200, 'good page']);
    expect(thrown.headers['cache-status']).toMatch(/fwd-status=500/);
    t.mode.value = 'reject';
    const rejected = await request(url).get('/page');
    expect([rejected.status, rejected.text, rejected.headers['x-error']]).toEqual([
      200,
      'good page',
      undefined,
    ]);
    t.mode.value = 'ok';
    const recovered = await request(url).get('/page');
    expect(recovered.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
  });

  it('lets the error through once the window has passed, or without staleIfError', async () => {
    const t = failing(`sie${++names}`, { staleIfError: '1s' });
    const url = await listen(t.app);
    await request(url).get('/page');
    await sleep(2_600);
    t.mode.value = '500';
    const late = await request(url).get('/page');
    expect(late.status).toBe(503);
    const u = failing(`sie${++names}`, { staleIfError: 0 });
    const url2 = await listen(u.app);
    await request(url2).get('/page');
    await sleep(1_500);
    u.mode.value = 'throw';
    const thrown = await request(url2).get('/page');
    expect([thrown.status, thrown.text]).toEqual([500, 'error: boom']);
  });
});
