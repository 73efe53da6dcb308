// Options: validated at creation with coded ConfigErrors; undefined means the default.
import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PAGE_VIEWS_OPTIONS, type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const open: PageViewsMiddleware[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((v) => v.close().catch(() => {})));
});

/** Creates the middleware (closed after the test); a bad option throws. */
function create(options: unknown): void {
  open.push(pageViews(options as Parameters<typeof pageViews>[0]));
}

describe('pageViews options', () => {
  const base = () => ({ redis: redis.client, prefix: redis.prefix('opt:') });

  it('accepts the defaults, and undefined means the default', () => {
    expect(configErrorCode(() => create(base()))).toBeUndefined();
    expect(
      configErrorCode(() =>
        create({ ...base(), timeZone: undefined, flushInterval: undefined, secret: undefined }),
      ),
    ).toBeUndefined();
    expect(DEFAULT_PAGE_VIEWS_OPTIONS).toMatchObject({
      prefix: 'pv:',
      timeZone: 'UTC',
      flushInterval: '1s',
      beaconPath: '/_pv',
      maxTimeOnPage: '30m',
      granularities: ['day', 'week', 'month', 'year'],
    });
  });

  const invalid: [string, () => unknown, string][] = [
    ['no options object', () => undefined, 'ERR_OPTIONS_INVALID'],
    ['no redis', () => ({}), 'ERR_REDIS_CLIENT'],
    ['a misspelt option', () => ({ ...base(), flushIntervall: '1s' }), 'ERR_OPTION_UNKNOWN'],
    ['an unknown time zone', () => ({ ...base(), timeZone: 'Europe/Atlantis' }), 'ERR_PV_TIME_ZONE'],
    ['an empty granularity list', () => ({ ...base(), granularities: [] }), 'ERR_PV_GRANULARITY'],
    ['an unknown granularity', () => ({ ...base(), granularities: ['day', 'decade'] }), 'ERR_PV_GRANULARITY'],
    ['a short secret', () => ({ ...base(), secret: 'short' }), 'ERR_PV_SECRET'],
    ['a beacon path without a slash', () => ({ ...base(), beaconPath: '_pv' }), 'ERR_PV_BEACON_PATH'],
    ['a beacon path with a query', () => ({ ...base(), beaconPath: '/_pv?x=1' }), 'ERR_PV_BEACON_PATH'],
    ['a bad duration', () => ({ ...base(), flushInterval: 'soon' }), 'ERR_DURATION_INVALID'],
    ['a too short flush interval', () => ({ ...base(), flushInterval: 1 }), 'ERR_OPTION_RANGE'],
    ['an unknown retention key', () => ({ ...base(), retention: { days: '1d' } }), 'ERR_OPTION_UNKNOWN'],
    ['a bad retention', () => ({ ...base(), retention: { day: 'forever' } }), 'ERR_DURATION_INVALID'],
    ['a tiny maxBuffer', () => ({ ...base(), maxBuffer: 10 }), 'ERR_OPTION_RANGE'],
    ['a prefix with braces', () => ({ ...base(), prefix: 'pv{x}:' }), 'ERR_PREFIX_INVALID'],
    ['a non-function route', () => ({ ...base(), route: '/x' }), 'ERR_OPTION_VALUE'],
    ['a bad policy', () => ({ ...base(), onRedisError: 'ignore' }), 'ERR_OPTION_VALUE'],
    ['a live window over an hour', () => ({ ...base(), liveWindow: '2h' }), 'ERR_OPTION_RANGE'],
  ];

  it.each(invalid)('refuses %s', (_name, options, code) => {
    expect(configErrorCode(() => create(options()))).toBe(code);
  });

  it('refuses a live heartbeat that is too short or not a duration, with a ConfigError', () => {
    const views = pageViews(base());
    open.push(views);
    expect(configErrorCode(() => views.live({ heartbeat: 5 }))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => views.live({ heartbeat: 'often' }))).toBe('ERR_DURATION_INVALID');
    expect(configErrorCode(() => views.live({ heartbeat: '10ms' }))).toBeUndefined();
  });

  it('says so when app.use(pageViews) is written without the call', async () => {
    const app = express();
    app.use(pageViews as never);
    const response = await request(app).get('/');
    expect(response.status).toBe(500);
    expect(response.text).toContain('Call it first');
  });

  it('refuses to be created inside a request handler', async () => {
    const app = express();
    let code: string | undefined;
    app.get('/', (_req, res) => {
      code = configErrorCode(() => create(base()));
      res.end();
    });
    await request(app).get('/');
    expect(code).toBe('ERR_CREATED_IN_REQUEST_HANDLER');
  });

  it('warns in production when no secret is given', () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      configErrorCode(() => create({ ...base(), logger }));
      configErrorCode(() => create({ ...base(), logger, secret: 'a'.repeat(32) }));
    } finally {
      process.env.NODE_ENV = previous;
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('no `secret`');
  });
});
