import express, { type ErrorRequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_RESPONSE_CACHE_OPTIONS, responseCache } from '../../src/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

describe('responseCache options', () => {
  const client = redis.client;

  it('accepts the documented defaults, and undefined means the default', () => {
    const cache = responseCache({ redis: client, ttl: undefined, name: undefined });
    expect(typeof cache).toBe('function');
    expect(cache.name).toBe('responseCacheMiddleware');
    expect(DEFAULT_RESPONSE_CACHE_OPTIONS.maxBodyBytes).toBe(1_048_576);
    expect(DEFAULT_RESPONSE_CACHE_OPTIONS.statuses).toEqual([200, 203, 204, 300, 301, 404, 410]);
  });

  it('rejects misconfiguration at creation with a code', () => {
    expect(configErrorCode(() => responseCache(undefined as never))).toBe('ERR_OPTIONS_INVALID');
    expect(configErrorCode(() => responseCache({} as never))).toBe('ERR_REDIS_CLIENT');
    expect(configErrorCode(() => responseCache({ redis: client, tll: '1m' } as never))).toBe(
      'ERR_OPTION_UNKNOWN',
    );
    expect(configErrorCode(() => responseCache({ redis: client, name: 'a:b' }))).toBe(
      'ERR_CACHE_NAME_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, name: 'a*' }))).toBe(
      'ERR_CACHE_NAME_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, ttl: 'soon' as never }))).toBe(
      'ERR_DURATION_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, ttl: 10 }))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => responseCache({ redis: client, lockTimeout: 5 }))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => responseCache({ redis: client, statuses: [200, 206] }))).toBe(
      'ERR_CACHE_STATUS_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, statuses: [99] }))).toBe(
      'ERR_CACHE_STATUS_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, statuses: [200, 503] }))).toBe(
      'ERR_CACHE_STATUS_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, query: 'page' as never }))).toBe(
      'ERR_CACHE_QUERY_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, query: [''] }))).toBe(
      'ERR_CACHE_QUERY_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, vary: ['cookie'] }))).toBe(
      'ERR_CACHE_VARY_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, vary: ['bad header'] }))).toBe(
      'ERR_CACHE_VARY_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, tags: [''] }))).toBe(
      'ERR_CACHE_TAGS_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, publicCookies: [1] as never }))).toBe(
      'ERR_CACHE_COOKIES_INVALID',
    );
    expect(configErrorCode(() => responseCache({ redis: client, maxBodyBytes: -1 }))).toBe(
      'ERR_OPTION_RANGE',
    );
    expect(configErrorCode(() => responseCache({ redis: client, coalesce: 'yes' as never }))).toBe(
      'ERR_OPTION_VALUE',
    );
    expect(configErrorCode(() => responseCache({ redis: client, onRedisError: 'ignore' as never }))).toBe(
      'ERR_OPTION_VALUE',
    );
    expect(configErrorCode(() => responseCache({ redis: client, key: 'url' as never }))).toBe(
      'ERR_OPTION_VALUE',
    );
    expect(configErrorCode(() => responseCache({ redis: client, prefix: '{x}' }))).toBe('ERR_PREFIX_INVALID');
    expect(configErrorCode(() => responseCache({ redis: client, logger: {} as never }))).toBe(
      'ERR_OPTION_VALUE',
    );
  });

  it('refuses app.use(responseCache) and creation inside a request handler', async () => {
    expect(
      configErrorCode(() => responseCache(Object.create({ constructor: { name: 'IncomingMessage' } }))),
    ).toBe('ERR_FACTORY_NOT_CALLED');
    const app = express();
    let code: string | undefined;
    app.get('/', (_req, res) => {
      code = configErrorCode(() => responseCache({ redis: client }));
      res.end();
    });
    await request(app).get('/');
    expect(code).toBe('ERR_CREATED_IN_REQUEST_HANDLER');
  });

  it('refuses app.use(responseCache) without the call, as a request reaches it', async () => {
    const app = express();
    let code: string | undefined;
    app.use(responseCache as never);
    app.use(((error: ConfigError, _req, res, _next) => {
      code = error.code;
      res.end();
    }) as ErrorRequestHandler);
    await request(app).get('/');
    expect(code).toBe('ERR_FACTORY_NOT_CALLED');
  });

  it('rejects bad tags given to invalidate()', async () => {
    const cache = responseCache({ redis: client, prefix: redis.prefix('cache:') });
    await expect(cache.invalidate([''])).rejects.toThrow(ConfigError);
    await expect(cache.invalidate(42 as never)).rejects.toMatchObject({ code: 'ERR_CACHE_TAGS_INVALID' });
    expect(await cache.invalidate([])).toBe(0);
  });
});
