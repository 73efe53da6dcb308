import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { parseCacheControl } from '../../src/cache/cache-control.js';
import { acceptedCodings, acceptsCoding, defaultKey, entryHash } from '../../src/cache/key.js';
import { noneMatch, notModifiedSince, responseVerdict, storedHeaders } from '../../src/cache/policy.js';

const config = {
  ttlMs: 60_000,
  statuses: new Set([200, 203, 204, 300, 301, 404, 410]),
  maxBodyBytes: 1_000,
  staleWhileRevalidateMs: 10_000,
  staleIfErrorMs: 20_000,
  explicitFreshness: false,
  targetedFields: ['express-redis-kit-cache-control'],
};
const now = Date.parse('2026-01-01T00:00:00Z');
const verdict = (status: number, headers: Record<string, string | string[] | number> = {}, length?: number) =>
  responseVerdict(status, headers, config, length, now);

describe('which responses are stored', () => {
  it('stores listed statuses with the route TTL', () => {
    expect(verdict(200)).toEqual({ store: true, ttl: 60_000, age: 0, swr: 10_000, sie: 20_000 });
    expect(verdict(404).store).toBe(true);
    for (const status of [201, 206, 302, 304, 500, 503]) expect(verdict(status).store).toBe(false);
  });

  it('marks uncacheable URLs for hit-for-miss, but not passing failures', () => {
    expect(verdict(302)).toMatchObject({ store: false, marker: true });
    expect(verdict(500)).toMatchObject({ store: false, marker: false });
    expect(verdict(304)).toMatchObject({ store: false, marker: false });
  });

  it('never stores Set-Cookie, private, no-store, no-cache, Vary: *, event streams, ranges, big bodies', () => {
    expect(verdict(200, { 'set-cookie': ['a=1'] })).toMatchObject({ store: false, reason: 'set-cookie' });
    expect(verdict(200, { 'cache-control': 'public, private' })).toMatchObject({ reason: 'private' });
    expect(verdict(200, { 'cache-control': 'private="x-user"' })).toMatchObject({ reason: 'private' });
    expect(verdict(200, { 'cache-control': 'max-age=60, no-store' })).toMatchObject({ reason: 'no-store' });
    expect(verdict(200, { 'cache-control': 'no-cache' })).toMatchObject({ reason: 'no-cache' });
    expect(verdict(200, { vary: 'Accept-Encoding, *' })).toMatchObject({ reason: 'vary' });
    expect(verdict(200, { 'content-type': 'text/event-stream; charset=utf-8' })).toMatchObject({
      reason: 'event-stream',
    });
    expect(verdict(200, { 'content-range': 'bytes 0-1/2' })).toMatchObject({ reason: 'partial' });
    expect(verdict(200, { 'content-length': '1001' })).toMatchObject({ reason: 'too-large' });
    expect(verdict(200, {}, 1_001)).toMatchObject({ reason: 'too-large' });
    expect(verdict(200, {}, 1_000).store).toBe(true);
  });

  it('lets s-maxage, then max-age, then Expires shorten the TTL, never lengthen it', () => {
    expect(verdict(200, { 'cache-control': 'max-age=10' })).toMatchObject({ ttl: 10_000 });
    expect(verdict(200, { 'cache-control': 'max-age=10, s-maxage=5' })).toMatchObject({ ttl: 5_000 });
    expect(verdict(200, { 'cache-control': 'max-age=0, s-maxage=30' })).toMatchObject({ ttl: 30_000 });
    expect(verdict(200, { 'cache-control': 'max-age=99999' })).toMatchObject({ ttl: 60_000 });
    expect(verdict(200, { expires: new Date(now + 20_000).toUTCString() })).toMatchObject({ ttl: 20_000 });
    expect(verdict(200, { 'cache-control': 'max-age=0' })).toMatchObject({ store: false, reason: 'expired' });
    expect(verdict(200, { expires: '0' })).toMatchObject({ store: false, reason: 'expired' });
    expect(verdict(200, { 'cache-control': 'max-age=30, must-revalidate' })).toMatchObject({
      ttl: 30_000,
      swr: 0,
      sie: 0,
    });
  });

  it('parses Cache-Control lists, arrays and odd spacing', () => {
    expect(parseCacheControl(['public', ' S-MAXAGE = 7 '])).toMatchObject({ sMaxAge: 7_000, private: false });
    expect(parseCacheControl('max-age="12"')).toMatchObject({ maxAge: 12_000 });
    expect(parseCacheControl('max-age=-1')).toMatchObject({ maxAge: 0 });
  });
});

describe('which headers are stored', () => {
  it('drops hop-by-hop and per-exchange fields, and those set before the cache with the same value', () => {
    const stored = storedHeaders(
      {
        'content-type': 'text/html',
        connection: 'x-hop',
        'x-hop': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'content-length': '12',
        'x-request-id': 'r1',
        'x-powered-by': 'Express',
        'x-frame-options': 'DENY',
        link: ['<a>', '<b>'],
        'x-count': 3,
      },
      { 'x-powered-by': 'Express', 'x-frame-options': 'SAMEORIGIN' },
    );
    expect(stored).toEqual([
      ['content-type', 'text/html'],
      ['x-frame-options', 'DENY'],
      ['link', ['<a>', '<b>']],
      ['x-count', '3'],
    ]);
  });
});

describe('validators', () => {
  it('compares If-None-Match weakly, with lists and *', () => {
    expect(noneMatch('"a"', '"a"')).toBe(true);
    expect(noneMatch('W/"a"', '"a"')).toBe(true);
    expect(noneMatch('"a"', 'W/"a"')).toBe(true);
    expect(noneMatch('"x", W/"a"', '"a"')).toBe(true);
    expect(noneMatch('*', '"a"')).toBe(true);
    expect(noneMatch('"b"', '"a"')).toBe(false);
    expect(noneMatch('"a"', '')).toBe(false);
  });

  it('compares If-Modified-Since with Last-Modified', () => {
    const lm = 'Wed, 01 Jan 2025 00:00:00 GMT';
    expect(notModifiedSince(lm, lm)).toBe(true);
    expect(notModifiedSince('Tue, 31 Dec 2024 00:00:00 GMT', lm)).toBe(false);
    expect(notModifiedSince('garbage', lm)).toBe(false);
    expect(notModifiedSince(lm, undefined)).toBe(false);
  });
});

describe('keys', () => {
  const req = (originalUrl: string, host: string | null = 'shop.test', protocol = 'https') =>
    ({ originalUrl, headers: host === null ? {} : { host }, protocol }) as unknown as Request;

  it('sorts query parameters by name, keeps path, scheme and host with its port', () => {
    expect(defaultKey(req('/p?b=2&a=1'))).toBe('https://shop.test/p?a=1&b=2');
    expect(defaultKey(req('/p?a=1&&b=2&'))).toBe('https://shop.test/p?a=1&b=2');
    expect(defaultKey(req('/p?'))).toBe('https://shop.test/p');
    expect(defaultKey(req('/p'))).not.toBe(defaultKey(req('/p', 'other.test')));
    expect(defaultKey(req('/p'))).not.toBe(defaultKey(req('/p', 'shop.test', 'http')));
    expect(defaultKey(req('/p', 'Shop.Test:8080'))).toBe('https://shop.test:8080/p');
    expect(defaultKey(req('/p', '[::1]:3000'))).toBe('https://[::1]:3000/p');
  });

  it('keeps repeated parameters in the order they were sent', () => {
    expect(defaultKey(req('/p?a=2&b=0&a=1'))).toBe('https://shop.test/p?a=2&a=1&b=0');
    expect(defaultKey(req('/p?a=1&a=2'))).not.toBe(defaultKey(req('/p?a=2&a=1')));
  });

  it('keys on the listed parameters only, however their names are spelt', () => {
    const listed = new Set(['page', 'sort']);
    expect(defaultKey(req('/p?utm=x&sort=a&page=2&r=1'), listed)).toBe('https://shop.test/p?page=2&sort=a');
    expect(defaultKey(req('/p?pa%67e=2'), listed)).toBe('https://shop.test/p?pa%67e=2');
    expect(defaultKey(req('/p?page[0]=2'), listed)).toBe('https://shop.test/p?page[0]=2');
    expect(defaultKey(req('/p?x=1'), listed)).toBe('https://shop.test/p');
    expect(defaultKey(req('/p?x=1'), new Set())).toBe('https://shop.test/p');
  });

  it('gives no key (bypass) for a missing or malformed Host', () => {
    for (const host of [
      null,
      '',
      'shop.example:@evil.example',
      'a b',
      'shop.test/x',
      'shop.test:80:80',
      'é.test',
    ])
      expect(defaultKey(req('/p', host)), String(host)).toBeUndefined();
  });

  it('hashes scope so that no scope and any scope differ', () => {
    expect(entryHash('k', '', undefined)).not.toBe(entryHash('k', '', ''));
    expect(entryHash('k', '', 'u1')).not.toBe(entryHash('k', '', 'u2'));
    expect(entryHash('k', 'fr\0', undefined)).not.toBe(entryHash('k', 'en\0', undefined));
    expect(entryHash('k', '', undefined)).toMatch(/^\{[A-Za-z0-9_-]{43}\}$/);
  });

  it('normalises Accept-Encoding to the accepted codings, best first', () => {
    expect(acceptedCodings('gzip, deflate, br')).toBe('gzip,deflate,br');
    expect(acceptedCodings('br;q=1.0, gzip;q=0.8, *;q=0.1')).toBe('br,gzip,*');
    expect(acceptedCodings('gzip;q=0, identity')).toBe('');
    expect(acceptsCoding('gzip, br', 'gzip')).toBe(true);
    expect(acceptsCoding('identity', 'gzip')).toBe(false);
    expect(acceptsCoding(undefined, 'br')).toBe(false);
    expect(acceptsCoding(undefined, '')).toBe(true);
  });
});
