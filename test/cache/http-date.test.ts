// HTTP-date parsing (RFC 9110 §5.6.7) and Age/targeted-field parsing, as the cache's freshness rules read them.
import { describe, expect, it } from 'vitest';
import { ageValue, targetedCacheControl } from '../../src/cache/cache-control.js';
import { parseHttpDate } from '../../src/cache/http-date.js';

const now = Date.UTC(2026, 5, 15, 12, 0, 0);

describe('HTTP-date', () => {
  it('reads the three formats of RFC 9110', () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', now)).toBe(expected);
    expect(parseHttpDate('Wed Nov 16 08:49:37 1994', now)).toBe(Date.UTC(1994, 10, 16, 8, 49, 37));
  });

  it('rejects what Date.parse would read as a date', () => {
    for (const bad of [
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun 06 Nov 1994 08:49:37 GMT',
      'Sun,  06 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994  08:49:37 GMT',
      'Sun, 06-Nov-1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 8:49:37 GMT',
      'Sun, 6 Nov 1994 08:49:37 GMT',
      'sun, 06 nov 1994 08:49:37 gmt',
      'Sun, 06 Nov 1994 08:49:37 +0000',
      'Sun, 06 Nov 1994 08:49:37',
      '1994-11-06T08:49:37Z',
      'Sun, 31 Feb 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 24:00:00 GMT',
      'Sun Nov 06 08:49:37 1994',
      '0',
      '',
    ]) {
      expect(parseHttpDate(bad, now), bad).toBeNaN();
    }
  });

  it('reads an RFC 850 year more than 50 years ahead as the past century', () => {
    // In 2026: '75' is 2075 (49 years ahead), '77' would be 2077 (51 years ahead), so it is 1977.
    expect(new Date(parseHttpDate('Monday, 01-Jan-75 00:00:00 GMT', now)).getUTCFullYear()).toBe(2075);
    expect(new Date(parseHttpDate('Friday, 01-Jan-77 00:00:00 GMT', now)).getUTCFullYear()).toBe(1977);
    expect(new Date(parseHttpDate('Tuesday, 01-Jan-30 00:00:00 GMT', now)).getUTCFullYear()).toBe(2030);
    expect(new Date(parseHttpDate('Tuesday, 01-Jan-26 00:00:00 GMT', now)).getUTCFullYear()).toBe(2026);
  });
});

describe('Age (RFC 9111 §5.1)', () => {
  it('takes the first member of a list, caps overflow at 2^31 seconds, ignores anything else', () => {
    expect(ageValue('30')).toBe(30_000);
    expect(ageValue('30, 10')).toBe(30_000);
    expect(ageValue(['30', '10'])).toBe(30_000);
    expect(ageValue(12)).toBe(12_000);
    expect(ageValue('99999999999999999999')).toBe(2_147_483_648_000);
    for (const bad of ['abc', '-5', '1.5', '', ' ', '0x10', '1e3'])
      expect(ageValue(bad), bad).toBeUndefined();
    expect(ageValue(undefined)).toBeUndefined();
  });
});

describe('targeted cache-control fields (RFC 9213)', () => {
  const fields = ['express-redis-kit-cache-control', 'cdn-cache-control'];

  it('reads a Structured Fields Dictionary and uses the first valid field in list order', () => {
    expect(
      targetedCacheControl({ 'express-redis-kit-cache-control': 'max-age=600, must-revalidate' }, fields),
    ).toMatchObject({ maxAge: 600_000, mustRevalidate: true, noStore: false });
    expect(
      targetedCacheControl(
        { 'express-redis-kit-cache-control': 'max-age=5', 'cdn-cache-control': 'max-age=9' },
        fields,
      ),
    ).toMatchObject({ maxAge: 5_000 });
    expect(targetedCacheControl({ 'cdn-cache-control': 'no-store' }, fields)).toMatchObject({
      noStore: true,
    });
    expect(targetedCacheControl({ 'cache-control': 'max-age=5' }, fields)).toBeUndefined();
  });

  it('ignores an empty or unparsable field, and values that are not integers', () => {
    for (const bad of ['', 'max-age=60,', 'Max-Age=60', 'max-age=6 0', 'max-age="60', '@x', 'max-age=60;;']) {
      expect(targetedCacheControl({ 'express-redis-kit-cache-control': bad }, fields), bad).toBeUndefined();
    }
    // Valid dictionaries whose max-age is not an integer: the directive is not consumed.
    expect(
      targetedCacheControl({ 'express-redis-kit-cache-control': 'max-age=1.5, private' }, fields),
    ).toMatchObject({ maxAge: undefined, private: true });
    expect(targetedCacheControl({ 'express-redis-kit-cache-control': 'max-age="60"' }, fields)).toMatchObject(
      { maxAge: undefined },
    );
    // 'none' is no directive at all, but a valid field: it still replaces Cache-Control.
    expect(targetedCacheControl({ 'express-redis-kit-cache-control': 'none' }, fields)).toMatchObject({
      maxAge: undefined,
      noStore: false,
    });
  });
});
