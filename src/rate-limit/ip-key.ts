// The default client key: the request's IP, with IPv6 grouped by network and IPv4-mapped IPv6 folded to IPv4.
import { isIPv4, isIPv6 } from 'node:net';
import type { Request } from 'express';

/** The key used when a request has no address at all (its socket already closed). */
const NO_ADDRESS = 'unknown';

/**
 * The client key of a request: `req.ip` (which honours Express's `trust proxy` setting), normalized by
 * {@link normalizeIp} with IPv6 grouped by /64, since one subscriber usually holds a whole /64 and could
 * otherwise rotate through billions of addresses. Combine it with an account to key a sign-in limit.
 *
 * @example
 * rateLimit({ redis, name: 'login', limit: 5, window: '15m',
 *   key: (req) => `${ipKey(req)}:${String(req.body?.email ?? '').toLowerCase()}` });
 */
export function ipKey(req: Request): string {
  return normalizeIp(req.ip ?? req.socket?.remoteAddress ?? '');
}

/**
 * Normalizes an IP address for use as a key. IPv4 stays as it is; an IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`, what a dual-stack server sees for IPv4 clients) becomes the IPv4 address, so it is
 * never lumped with other mapped clients; other IPv6 addresses become their network in RFC 5952 form, e.g.
 * `2001:db8:1:2::/64`. Anything that is not an IP address is returned unchanged.
 *
 * @param address the address, as in `req.ip`
 * @param ipv6Prefix how many leading bits of an IPv6 address identify a client (1 to 128)
 */
export function normalizeIp(address: string, ipv6Prefix = 64): string {
  if (address.length === 0) return NO_ADDRESS;
  // The common case on dual-stack servers, kept off the general parser.
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  if (isIPv4(address)) return address;
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  if (!isIPv6(bare)) return address;
  const groups = parseIpv6(bare);
  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    const high = groups[6] ?? 0;
    const low = groups[7] ?? 0;
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  const bits = Math.min(128, Math.max(1, Math.trunc(ipv6Prefix)));
  const network = groups.map((group, i) => {
    const left = bits - i * 16;
    if (left >= 16) return group;
    return left <= 0 ? 0 : group & ((0xffff << (16 - left)) & 0xffff);
  });
  return bits === 128 ? compress(network) : `${compress(network)}/${bits}`;
}

/** RFC 5952 text of eight groups: lower-case hex, the longest run of two or more zero groups as `::`. */
function compress(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < groups.length && groups[end] === 0) end += 1;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The eight 16-bit groups of a valid IPv6 address (checked by `isIPv6` first). */
function parseIpv6(address: string): number[] {
  const split = address.indexOf('::');
  const head = split === -1 ? address : address.slice(0, split);
  const tail = split === -1 ? '' : address.slice(split + 2);
  const left = groupsOf(head);
  const right = groupsOf(tail);
  const zeros = new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0);
  return [...left, ...zeros, ...right];
}

function groupsOf(part: string): number[] {
  if (part.length === 0) return [];
  const groups: number[] = [];
  for (const piece of part.split(':')) {
    if (piece.includes('.')) {
      const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      groups.push(Number.parseInt(piece, 16));
    }
  }
  return groups;
}
