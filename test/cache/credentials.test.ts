// Which requests the response cache treats as carrying credentials (and never answers from a shared entry).
import { describe, expect, it } from 'vitest';
import { hasCredentials } from '../../src/cache/credentials.js';

describe('which requests carry credentials', () => {
  const names = new Set(['_gid']);
  const patterns = [/^_ga/];
  const has = (headers: Record<string, string>) => hasCredentials({ headers }, names, patterns);

  it('counts Authorization and any cookie that is not on the public list, whatever its name', () => {
    expect(has({})).toBe(false);
    expect(has({ authorization: 'Bearer x' })).toBe(true);
    expect(has({ 'proxy-authorization': 'Basic x' })).toBe(true);
    expect(has({ cookie: '_ga=GA1.1; _gid=2' })).toBe(false);
    expect(has({ cookie: '_ga=GA1.1; sid=abc' })).toBe(true);
    expect(has({ cookie: 'connect.sid=s%3Aabc' })).toBe(true);
    expect(has({ cookie: 'erk.sess=1' })).toBe(true);
    expect(has({ cookie: 'loneflag' })).toBe(true);
    expect(has({ cookie: ' ; ;' })).toBe(false);
  });

  it('attack: a session cookie hidden behind a public cookie with a comma or a space counts as credentials', () => {
    expect(has({ cookie: '_ga=1, sid=abc' })).toBe(true);
    expect(has({ cookie: '_ga=1 sid=abc' })).toBe(true);
    expect(has({ cookie: '_ga=1\tsid=abc' })).toBe(true);
    expect(has({ cookie: '_gid=1; _gid=2' })).toBe(true);
    expect(has({ cookie: '_ga=\u00ff' })).toBe(true);
  });
});
