// The one Cookie-header reader: how a header is tokenised, and which headers count as ambiguous.
import { describe, expect, it } from 'vitest';
import { cookiesOf, cookieValues, readCookieHeader } from '../../src/core/cookie-header.js';

describe('reading a Cookie header', () => {
  it('reads name=value pairs as the cookie package does, values as sent', () => {
    const r = readCookieHeader('_ga=GA1.1.2; sid=abc.def;theme="dark"; q=a%20b');
    expect({ ...r.cookies }).toEqual({ _ga: 'GA1.1.2', sid: 'abc.def', theme: '"dark"', q: 'a%20b' });
    expect(r.ambiguous).toBe(false);
    expect(r.repeated).toBe(false);
    expect(readCookieHeader(undefined).cookies).toEqual({});
    expect(readCookieHeader(' ; ;').ambiguous).toBe(false);
  });

  it('finds no `sid` after a comma or a space: that text is part of the value of the cookie before it', () => {
    for (const header of ['_ga=1, sid=x', '_ga=1 sid=x', '_ga=1\tsid=x', '_ga=1,sid=x']) {
      const r = readCookieHeader(header);
      expect(r.cookies.sid, header).toBeUndefined();
      expect(r.ambiguous, header).toBe(true);
    }
  });

  it('calls a header ambiguous when a name repeats or a byte is outside the cookie grammar', () => {
    const ambiguous = [
      'sid=a; sid=b',
      'a=1; b=2; a=1',
      'a b=1',
      'a=b c',
      'flag',
      'a=1; flag',
      '=x',
      'a="b',
      'a=b\\c',
      'a=\u00e9',
      'a=\u0001',
      'a=1;; b=2; (c)=3',
    ];
    for (const header of ambiguous) expect(readCookieHeader(header).ambiguous, header).toBe(true);
    for (const header of ['a=1', 'a=', 'a=1;b=2', ' a=1 ; b=2 ;', 'a="x"', 'a=1;; b=2'])
      expect(readCookieHeader(header).ambiguous, header).toBe(false);
    expect(readCookieHeader('sid=a; sid=b').repeated).toBe(true);
    expect(readCookieHeader('sid=a; sid=b').cookies.sid).toBe('a');
  });

  it('lists every value of a repeated cookie in header order', () => {
    expect(cookieValues('sid=a; x=1; sid=b ;sid="c"', 'sid')).toEqual(['a', 'b', '"c"']);
    expect(cookieValues('xsid=a; sid x=b', 'sid')).toEqual([]);
  });

  it('reads a request once, and again when something rewrote its header', () => {
    const req = { headers: { cookie: 'a=1' } as { cookie?: string } };
    const first = cookiesOf(req);
    expect(cookiesOf(req)).toBe(first);
    req.headers.cookie = 'a=2';
    expect(cookiesOf(req).cookies.a).toBe('2');
    req.headers.cookie = undefined;
    expect(cookiesOf(req).cookies).toEqual({});
  });
});
