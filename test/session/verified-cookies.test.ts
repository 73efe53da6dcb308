// The cache of verified cookies: only valid cookies enter it, it stays bounded, and it agrees with verification.
import { describe, expect, it } from 'vitest';
import { signId } from '../../src/session/cookie.js';
import { handleOf, newId, newUserSessionId, userTag } from '../../src/session/ids.js';
import { resolveOptions } from '../../src/session/options.js';
import { VerifiedCookies } from '../../src/session/verified-cookies.js';
import { useTestRedis } from '../helpers/redis.js';
import { OLD_SECRET, SECRET } from './support.js';

const redis = useTestRedis();
const keys = resolveOptions({ redis: redis.client, secret: [SECRET, OLD_SECRET] }).signKeys;
const [current, old] = keys as [Buffer, Buffer];
const keyOf = (handle: string, tag: string | undefined) => (tag ? `s:{${tag}}:${handle}` : `s:${handle}`);

describe('VerifiedCookies', () => {
  it('returns the verification with the handle and user tag, and the same entry on the next request', () => {
    const cache = new VerifiedCookies(keys, keyOf);
    const tag = userTag(current, 'ada');
    const id = newUserSessionId(tag);
    const value = signId(id, current);
    const first = cache.verify(value);
    expect(first).toEqual({
      id,
      keyIndex: 0,
      value,
      handle: handleOf(id),
      tag,
      key: `s:{${tag}}:${handleOf(id)}`,
    });
    expect(cache.verify(value)).toBe(first);
    const anonymous = newId();
    expect(cache.verify(signId(anonymous, old))).toMatchObject({
      id: anonymous,
      keyIndex: 1,
      tag: undefined,
    });
  });

  it('never caches or accepts a value that does not verify', () => {
    const cache = new VerifiedCookies(keys, keyOf);
    const value = signId(newId(), current);
    const tampered = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
    expect(cache.verify(tampered)).toBeUndefined();
    expect(cache.verify(tampered)).toBeUndefined();
    expect(cache.verify(signId(newId(), Buffer.alloc(32, 7)))).toBeUndefined();
  });

  it('keeps at most its bound, dropping the oldest entry', () => {
    const cache = new VerifiedCookies(keys, keyOf, 2);
    const [a, b, c] = [newId(), newId(), newId()].map((id) => signId(id, current)) as [
      string,
      string,
      string,
    ];
    const first = cache.verify(a);
    const second = cache.verify(b);
    const third = cache.verify(c);
    // the two newest are kept
    expect(cache.verify(b)).toBe(second);
    expect(cache.verify(c)).toBe(third);
    // `a` was dropped: verifying it again builds a new entry, which drops `b`, now the oldest
    expect(cache.verify(a)).not.toBe(first);
    expect(cache.verify(c)).toBe(third);
    expect(cache.verify(b)).not.toBe(second);
  });
});
