// The default key helpers: IPv4 kept, IPv4-mapped IPv6 folded, IPv6 grouped by network.
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { ipKey, normalizeIp } from '../../src/index.js';

describe('normalizeIp', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['::1', '::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['64:ff9b::203.0.113.7', '64:ff9b::/64'],
    ['', 'unknown'],
    ['not-an-ip', 'not-an-ip'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::/64'],
    ['2001:0:0:1::', '2001:0:0:1::/64'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it('keeps distinct IPv4-mapped clients apart (never one shared bucket)', () => {
    expect(normalizeIp('::ffff:198.51.100.1')).not.toBe(normalizeIp('::ffff:198.51.100.2'));
  });

  it('groups by other IPv6 prefix lengths', () => {
    expect(normalizeIp('2001:db8:abcd:12ff::1', 56)).toBe('2001:db8:abcd:1200::/56');
    expect(normalizeIp('2001:db8:abcd:12ff::1', 48)).toBe('2001:db8:abcd::/48');
    expect(normalizeIp('2001:db8:abcd:12ff::1', 128)).toBe('2001:db8:abcd:12ff::1');
  });
});

describe('ipKey', () => {
  it('reads req.ip, falling back to the socket address', () => {
    expect(ipKey({ ip: '::ffff:10.0.0.1', socket: {} } as unknown as Request)).toBe('10.0.0.1');
    expect(ipKey({ ip: undefined, socket: { remoteAddress: '2001:db8::9' } } as unknown as Request)).toBe(
      '2001:db8::/64',
    );
    expect(ipKey({ ip: undefined, socket: {} } as unknown as Request)).toBe('unknown');
  });
});
