import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  assertNotInRequestHandler,
  checkOptions,
  consoleLogger,
  durationOption,
  formatDuration,
  integerOption,
  loggerOption,
  nameOption,
  oneOfOption,
  optionNames,
  secretsOption,
} from '../../src/core/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { expressVersions } from '../helpers/express.js';

describe('checkOptions', () => {
  const known = ['redis', 'limit', 'window'] as const;

  it('accepts known options', () => {
    expect(configErrorCode(() => checkOptions({ limit: 1 }, [...known], 'rateLimit'))).toBeUndefined();
  });

  it('rejects a non-object', () => {
    expect(configErrorCode(() => checkOptions(undefined, [...known], 'rateLimit'))).toBe(
      'ERR_OPTIONS_INVALID',
    );
    expect(configErrorCode(() => checkOptions([], [...known], 'rateLimit'))).toBe('ERR_OPTIONS_INVALID');
  });

  it('names a misspelt option and suggests the right one', () => {
    expect(() => checkOptions({ limt: 5 }, [...known], 'rateLimit')).toThrow(
      "rateLimit: unknown option 'limt'. Did you mean 'limit'?",
    );
  });

  it('recognises a factory used as middleware without being called', () => {
    class IncomingMessage {}
    expect(configErrorCode(() => checkOptions(new IncomingMessage(), [...known], 'rateLimit'))).toBe(
      'ERR_FACTORY_NOT_CALLED',
    );
  });
});

describe('value checks', () => {
  it('integerOption enforces integer bounds', () => {
    expect(integerOption(5, 'limit', 'rateLimit', 1, 10)).toBe(5);
    expect(configErrorCode(() => integerOption(0, 'limit', 'rateLimit', 1, 10))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => integerOption(1.5, 'limit', 'rateLimit', 1, 10))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(() => integerOption('5', 'limit', 'rateLimit', 1, 10))).toBe('ERR_OPTION_RANGE');
  });

  it('oneOfOption lists the allowed values', () => {
    expect(oneOfOption('legacy', 'headers', 'rateLimit', ['draft-8', 'legacy', false])).toBe('legacy');
    expect(() => oneOfOption('draft-9', 'headers', 'rateLimit', ['draft-8', 'legacy', false])).toThrow(
      "must be one of 'draft-8', 'legacy', false",
    );
  });
});

describe('the options toolkit', () => {
  it('optionNames lists every option of the type', () => {
    interface Options {
      redis: string;
      ttl?: number;
    }
    expect(optionNames<Options>({ redis: true, ttl: true })).toEqual(['redis', 'ttl']);
    // @ts-expect-error a missing option is a type error: the list is complete by construction
    optionNames<Options>({ redis: true });
    // @ts-expect-error so is one the type does not have
    optionNames<Options>({ redis: true, ttl: true, tll: true });
  });

  it('durationOption parses, then checks the range, naming it in durations', () => {
    expect(durationOption('2m', 'ttl', 'responseCache', { min: 1_000 })).toBe(120_000);
    expect(configErrorCode(() => durationOption('soon', 'ttl', 'responseCache', { min: 1_000 }))).toBe(
      'ERR_DURATION_INVALID',
    );
    expect(() => durationOption(500, 'ttl', 'responseCache', { min: 1_000 })).toThrow(
      'responseCache: `ttl` must be at least 1s (got 500).',
    );
    expect(() => durationOption('2h', 'liveWindow', 'pageViews', { min: 60_000, max: 3_600_000 })).toThrow(
      "pageViews: `liveWindow` must be from 1m to 1h (got '2h').",
    );
    expect(
      configErrorCode(() => durationOption('0s', 'window', 'rateLimit', { min: 1 }, 'ERR_RATE_LIMIT_WINDOW')),
    ).toBe('ERR_RATE_LIMIT_WINDOW');
  });

  it('formatDuration writes the largest exact unit', () => {
    expect([3_600_000, 90_000, 1_500, 0, 86_400_000 * 2].map(formatDuration)).toEqual([
      '1h',
      '90s',
      '1500ms',
      '0ms',
      '2d',
    ]);
  });

  it('secretsOption takes one secret or a list, each 32 characters or more, and never echoes one', () => {
    const secret = 'x'.repeat(32);
    expect(secretsOption(secret, 'secret', 'session', 'ERR_SESSION_SECRET')).toEqual([secret]);
    expect(secretsOption([secret, `${secret}y`], 'secret', 'session', 'ERR_SESSION_SECRET')).toHaveLength(2);
    for (const bad of [undefined, [], ['short'], [secret, 42]]) {
      expect(configErrorCode(() => secretsOption(bad, 'secret', 'session', 'ERR_SESSION_SECRET'))).toBe(
        'ERR_SESSION_SECRET',
      );
    }
    expect(() => secretsOption('hunter2', 'secret', 'session', 'ERR_SESSION_SECRET')).toThrow(
      '(got 7 characters)',
    );
  });

  it('loggerOption wants warn() and error(), and falls back when absent', () => {
    expect(loggerOption(undefined, 'session', consoleLogger)).toBe(consoleLogger);
    expect(loggerOption(console, 'session', consoleLogger)).toBe(console);
    expect(configErrorCode(() => loggerOption({ warn() {} }, 'session', consoleLogger))).toBe(
      'ERR_OPTION_VALUE',
    );
    expect(configErrorCode(() => loggerOption(null, 'session', consoleLogger))).toBe('ERR_OPTION_VALUE');
  });

  it('nameOption takes what can sit in a Redis key and a header', () => {
    expect(nameOption('api.v2_x-1', 'name', 'rateLimit', 'ERR_RATE_LIMIT_NAME')).toBe('api.v2_x-1');
    for (const bad of ['', 'a b', 'a:b', 'x'.repeat(65), 7]) {
      expect(configErrorCode(() => nameOption(bad, 'name', 'rateLimit', 'ERR_RATE_LIMIT_NAME'))).toBe(
        'ERR_RATE_LIMIT_NAME',
      );
    }
  });
});

describe.each(expressVersions)('assertNotInRequestHandler on %s', (_name, express) => {
  it('passes at app start and throws inside a request handler', async () => {
    expect(configErrorCode(() => assertNotInRequestHandler('rateLimit'))).toBeUndefined();
    const app = express();
    app.get('/', (_req, res) => {
      res.send(configErrorCode(() => assertNotInRequestHandler('rateLimit')) ?? 'none');
    });
    const response = await request(app).get('/');
    expect(response.text).toBe('ERR_CREATED_IN_REQUEST_HANDLER');
  });
});
