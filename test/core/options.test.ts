import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { assertNotInRequestHandler, checkOptions, integerOption, oneOfOption } from '../../src/core/index.js';
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
