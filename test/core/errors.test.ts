import { describe, expect, it } from 'vitest';
import { ConfigError, errorMessage } from '../../src/core/index.js';

describe('ConfigError', () => {
  it('carries a code and a name', () => {
    const error = new ConfigError('ERR_OPTION_VALUE', 'something is wrong');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.code).toBe('ERR_OPTION_VALUE');
    expect(error.message).toBe('something is wrong');
  });
});

describe('errorMessage', () => {
  it('reads the message of an Error and turns anything else into a string', () => {
    expect(errorMessage(new TypeError('bad'))).toBe('bad');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
