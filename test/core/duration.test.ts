import { describe, expect, it } from 'vitest';
import { ConfigError, parseDuration } from '../../src/core/index.js';

describe('parseDuration', () => {
  it.each([
    [1500, 1500],
    [0, 0],
    [12.6, 13],
    ['250ms', 250],
    ['1.5s', 1500],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['.5s', 500],
    [' 30 s ', 30_000],
  ])('parses %j as %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    '15',
    'm',
    '15 minutes',
    '1h30m',
    '-5s',
    '1e3s',
    '5x',
    null,
    undefined,
    {},
    '9999999999999999w',
  ])('rejects %j with a coded ConfigError', (input) => {
    let thrown: unknown;
    try {
      parseDuration(input, 'rateLimit window');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).code).toBe('ERR_DURATION_INVALID');
    expect((thrown as ConfigError).message).toMatch(/^rateLimit window: .* is not a duration/);
  });
});
