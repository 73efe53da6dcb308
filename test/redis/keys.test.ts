import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { buildKey, hashTag, keyPart, sha256, validatePrefix } from '../../src/redis/index.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

describe('keyPart', () => {
  it('keeps short printable values readable', () => {
    expect(keyPart('203.0.113.7')).toBe('203.0.113.7');
    expect(keyPart('2001:db8::/64')).toBe('2001:db8::/64');
    expect(keyPart('/products/:id')).toBe('/products/:id');
  });

  it('hashes long, braced, spaced or non-ASCII values', () => {
    for (const value of ['a'.repeat(129), 'a{b}', 'a b', 'ünïcode', 'x\r\ny', '']) {
      const part = keyPart(value);
      if (value === '') {
        expect(part).toBe('');
        continue;
      }
      expect(part).toBe(`#${sha256(value)}`);
      expect(part).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    }
  });

  it('cannot be made to collide with a hashed value', () => {
    const hashed = keyPart('a b');
    expect(keyPart(hashed)).not.toBe(hashed);
  });
});

describe('hashTag and buildKey', () => {
  it('wraps the sanitised value in braces', () => {
    expect(hashTag('user42')).toBe('{user42}');
    expect(hashTag('a}b')).toBe(`{#${sha256('a}b')}}`);
    expect(buildKey('rl:', 'api', hashTag('1.2.3.4'), '60000')).toBe('rl:api:{1.2.3.4}:60000');
  });

  it('builds keys a real Redis stores and returns unchanged', async () => {
    const key = buildKey(redis.prefix('k:'), hashTag('ünï code'), keyPart('x'.repeat(500)));
    await redis.client.set(key, 'v', 'PX', 10_000);
    expect(await redis.client.get(key)).toBe('v');
    expect(key.length).toBeLessThan(120);
  });
});

describe('validatePrefix', () => {
  it('accepts ordinary prefixes and rejects empty or braced ones', () => {
    expect(validatePrefix('sess:', 'session')).toBe('sess:');
    expect(() => validatePrefix('', 'session')).toThrow(ConfigError);
    expect(() => validatePrefix('{app}:', 'session')).toThrow(/hash tags/);
    expect(() => validatePrefix(42, 'session')).toThrow(ConfigError);
  });
});
