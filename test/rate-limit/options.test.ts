// Configuration: every misconfiguration throws a coded ConfigError at creation.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  type ConfigError,
  DEFAULT_RATE_LIMIT_OPTIONS,
  type RateLimitOptions,
  rateLimit,
} from '../../src/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const valid: RateLimitOptions = {
  redis: redis.client,
  prefix: redis.prefix('rl:'),
  name: 'opts',
  limit: 5,
  window: '1m',
};

/** Creates a limiter from `options`, for `configErrorCode`. */
const limiterFrom = (options: unknown) => () => rateLimit(options as RateLimitOptions);

describe('misconfigurations throw a ConfigError at creation', () => {
  it('accepts a valid configuration', () => {
    expect(configErrorCode(limiterFrom(valid))).toBe(undefined);
    expect(
      configErrorCode(
        limiterFrom({ ...valid, rules: [{ limit: 2, window: '1s', name: 'opts-burst' }], cost: () => 1 }),
      ),
    ).toBe(undefined);
  });

  it.each([
    ['missing name', { name: undefined }, 'ERR_RATE_LIMIT_NAME'],
    ['empty name', { name: '' }, 'ERR_RATE_LIMIT_NAME'],
    ['name with a colon or braces', { name: 'a:{b}' }, 'ERR_RATE_LIMIT_NAME'],
    ['window of zero', { window: 0 }, 'ERR_RATE_LIMIT_WINDOW'],
    ['window of zero seconds', { window: '0s' }, 'ERR_RATE_LIMIT_WINDOW'],
    ['missing window', { window: undefined }, 'ERR_RATE_LIMIT_WINDOW'],
    ['negative window', { window: -5 }, 'ERR_DURATION_INVALID'],
    ['unparsable window', { window: 'soon' }, 'ERR_DURATION_INVALID'],
    ['window above a year', { window: '400d' }, 'ERR_RATE_LIMIT_WINDOW'],
    ['limit of zero', { limit: 0 }, 'ERR_RATE_LIMIT_LIMIT'],
    ['negative limit', { limit: -1 }, 'ERR_RATE_LIMIT_LIMIT'],
    ['fractional limit', { limit: 2.5 }, 'ERR_RATE_LIMIT_LIMIT'],
    ['missing limit', { limit: undefined }, 'ERR_RATE_LIMIT_LIMIT'],
    ['limit as a string', { limit: '10' }, 'ERR_RATE_LIMIT_LIMIT'],
    ['a rule without a window', { rules: [{ limit: 1 }] }, 'ERR_RATE_LIMIT_WINDOW'],
    ['a rule with limit 0', { rules: [{ limit: 0, window: '1s' }] }, 'ERR_RATE_LIMIT_LIMIT'],
    ['a rule with a misspelt option', { rules: [{ limit: 1, windw: '1s' }] }, 'ERR_OPTION_UNKNOWN'],
    ['a rule repeating the main window', { rules: [{ limit: 1, window: '60s' }] }, 'ERR_RATE_LIMIT_RULES'],
    [
      'two rules with one window',
      {
        rules: [
          { limit: 1, window: '1s' },
          { limit: 2, window: 1000 },
        ],
      },
      'ERR_RATE_LIMIT_RULES',
    ],
    ['rules not an array', { rules: { limit: 1, window: '1s' } }, 'ERR_RATE_LIMIT_RULES'],
    [
      'too many rules',
      { rules: [1, 2, 3, 4, 5, 6, 7, 8].map((s) => ({ limit: 1, window: `${s}s` })) },
      'ERR_RATE_LIMIT_RULES',
    ],
    ['a static cost above a limit', { cost: 6 }, 'ERR_RATE_LIMIT_COST'],
    ['a negative cost', { cost: -1 }, 'ERR_OPTION_RANGE'],
    ['a cost of the wrong type', { cost: '1' }, 'ERR_OPTION_VALUE'],
    ['a key that is not a function', { key: 'ip' }, 'ERR_OPTION_VALUE'],
    ['unknown headers', { headers: 'draft-7' }, 'ERR_OPTION_VALUE'],
    ['unknown onRedisError', { onRedisError: 'retry' }, 'ERR_OPTION_VALUE'],
    ['a prefix with braces', { prefix: 'rl:{x}:' }, 'ERR_PREFIX_INVALID'],
    ['a logger without warn', { logger: {} }, 'ERR_OPTION_VALUE'],
    ['a bad timeout', { timeout: 'never' }, 'ERR_DURATION_INVALID'],
    ['a stats interval too short', { statsInterval: 10 }, 'ERR_OPTION_RANGE'],
    ['stats not a boolean', { stats: 'yes' }, 'ERR_OPTION_VALUE'],
    ['a misspelt option', { windowMs: 1000 }, 'ERR_OPTION_UNKNOWN'],
    ['no redis client', { redis: undefined }, 'ERR_REDIS_CLIENT'],
  ])('%s', (_label, change, code) => {
    expect(configErrorCode(limiterFrom({ ...valid, ...change }))).toBe(code);
  });

  it('refuses a non-object and the factory used without the call', () => {
    expect(configErrorCode(limiterFrom(undefined))).toBe('ERR_OPTIONS_INVALID');
    expect(configErrorCode(limiterFrom('api'))).toBe('ERR_OPTIONS_INVALID');
  });

  it('documents every default in DEFAULT_RATE_LIMIT_OPTIONS', () => {
    expect(DEFAULT_RATE_LIMIT_OPTIONS).toMatchObject({
      cost: 1,
      headers: 'draft-8',
      onRedisError: 'fail-open',
      prefix: 'rl:',
    });
    expect(Object.isFrozen(DEFAULT_RATE_LIMIT_OPTIONS)).toBe(true);
  });

  describe.each(expressVersions)('on %s', (_version, express) => {
    it('refuses a limiter created inside a request handler', async () => {
      const app = express();
      app.get('/bad', (_req, res) => {
        try {
          rateLimit(valid);
          res.send('created');
        } catch (error) {
          res.status(500).send((error as ConfigError).code);
        }
      });
      app.use(rateLimit({ ...valid, name: 'opts-used-directly', limit: 100 }));
      const res = await request(app).get('/bad');
      expect(res.text).toBe('ERR_CREATED_IN_REQUEST_HANDLER');
    });

    it('refuses app.use(rateLimit) without the call', async () => {
      const app = express();
      app.use(rateLimit as never);
      app.get('/', (_req, res) => res.send('ok'));
      app.use(((error, _req, res, _next) => {
        res.status(500).send((error as ConfigError).code);
      }) as import('express').ErrorRequestHandler);
      const res = await request(app).get('/');
      expect(res.text).toBe('ERR_FACTORY_NOT_CALLED');
    });
  });
});
